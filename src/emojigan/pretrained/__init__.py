"""Shipped weights with their model cards: the OpenMoji feature network (and, later, pretrained generators)."""
