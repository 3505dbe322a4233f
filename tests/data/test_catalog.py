import pytest

from emojigan.data import catalog
from emojigan.errors import UserError


def test_catalog_is_openmoji_17():
    cat = catalog.load_catalog()
    assert len(cat) == 4495
    grinning = catalog.by_hexcode()["1F600"]
    assert grinning.emoji == "😀" and grinning.annotation == "grinning face"
    assert grinning.group == "smileys-emotion" and grinning.subgroup == "face-smiling"
    assert "smile" in grinning.tags


def test_subset_counts():
    assert catalog.subset_counts() == {"faces": 111, "faces+cats": 120, "smileys-emotion": 171, "all": 4495,
                                       "text": 2115, "heldout": 20}


def test_faces_excludes_costume_and_cats():
    faces = catalog.select("faces")
    assert {e.subgroup for e in faces} >= {"face-smiling", "face-concerned"}
    assert all(e.subgroup.startswith("face-") and e.subgroup != "face-costume" for e in faces)
    cats = [e for e in catalog.select("faces+cats") if e.subgroup == "cat-face"]
    assert len(cats) == 9 and any(e.annotation == "crying cat" for e in cats)


def test_group_and_subgroup_filters():
    sleepy = catalog.select("faces", subgroup="face-sleepy")
    assert len(sleepy) == 6
    mammals = catalog.select("all", group="animals-nature", subgroup="animal-mammal")
    assert mammals and all(e.subgroup == "animal-mammal" for e in mammals)
    both = catalog.select("faces", subgroup="face-sleepy,face-hat")
    assert len(both) == 9
    assert len(catalog.select("all", subgroup="face-*")) >= 111


@pytest.mark.parametrize("kwargs, words", [
    ({"subset": "smiley"}, "unknown subset 'smiley'"),
    ({"subset": "faces", "subgroup": "no-such"}, "matches no OpenMoji subgroup"),
    ({"subset": "faces", "group": "flags"}, "selects no emoji"),
])
def test_bad_selection(kwargs, words):
    with pytest.raises(UserError, match=words):
        catalog.select(**kwargs)


def test_select_explicit_emojis_by_hexcode_character_or_annotation():
    from emojigan.data.catalog import select
    from emojigan.errors import UserError

    got = select("all", emojis="1F435, 🐶 ,tiger face,1f435")
    assert [e.annotation for e in got] == ["monkey face", "dog face", "tiger face"]   # catalog order, no duplicates
    with pytest.raises(UserError, match="nope not found"):
        select("all", emojis="monkey face,nope")
    with pytest.raises(UserError, match="not found in subset 'faces'"):
        select("faces", emojis="monkey face")                                      # the subset still applies
