import pytest
from PIL import Image

from emojigan.data import load_images
from emojigan.errors import UserError


def test_built_dataset_lists_exactly_labels(faces32):
    s = load_images(faces32, 32, "black")
    assert len(s) == 111 and s.names[0] == "1F600" and "preview" not in s.names
    assert s.images.shape == (111, 3, 32, 32)
    assert float(s.images.min()) == -1.0 and float(s.images.max()) <= 1.0
    assert s.display_name(0) == "grinning face"  # the annotation of labels.csv, not the hexcode


def test_display_name_falls_back_to_the_file_name(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "my cat.png")
    s = load_images(tmp_path, 8, "black")
    assert s.display_name(0) == "my cat"
    s.labels = [{"hexcode": "1F431", "annotation": ""}]  # a labels row without an annotation
    assert s.display_name(0) == "my cat"


def test_user_folder_resized_and_skips(tmp_path):
    Image.new("RGB", (100, 80), (255, 0, 0)).save(tmp_path / "a.jpg")
    Image.new("RGBA", (48, 48), (0, 255, 0, 128)).save(tmp_path / "b.png")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    s = load_images(tmp_path, 64, "black")
    assert s.images.shape == (2, 3, 64, 64) and s.skipped == 2 and s.names == ["a", "b"]
    red = s.images[0, :, 32, 32]
    assert red[0] > 0.95 and red[1] < -0.95
    green = ((s.images[1, 1, 10, 10] + 1) * 127.5).item()   # half-transparent green over black
    assert 120 <= green <= 135
    rgba = load_images(tmp_path, 32, "transparent")
    assert rgba.images.shape == (2, 4, 32, 32)
    assert abs(((rgba.images[1, 3, 5, 5] + 1) * 127.5).item() - 128) < 2


def test_empty_or_missing_folder(tmp_path):
    (tmp_path / "readme.md").write_text("x")
    with pytest.raises(UserError, match=r"no usable image .* \(1 other files skipped\)"):
        load_images(tmp_path, 32)
    with pytest.raises(UserError, match="does not exist"):
        load_images(tmp_path / "nope", 32)


def test_labels_csv_with_missing_image(tmp_path):
    (tmp_path / "labels.csv").write_text("hexcode,emoji,annotation,subgroup,tags\n1F600,x,y,z,w\n")
    with pytest.raises(UserError, match="1F600.png is missing"):
        load_images(tmp_path, 32)
