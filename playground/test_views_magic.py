"""Streamlit's "magic" writes any bare expression statement of a page script onto the page: a string left
after an assignment as an attribute docstring shows up as text at the top of the page (it did on Play)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

VIEWS = sorted((Path(__file__).resolve().parent / "views").glob("*.py"))


@pytest.mark.parametrize("page", VIEWS, ids=lambda p: p.name)
def test_no_bare_string_is_drawn_by_magic(page):
    tree = ast.parse(page.read_text())
    bare = [
        node.lineno
        for node in tree.body[1:]  # the module docstring (first statement) is not drawn
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    ]
    assert not bare, f"{page.name}: bare strings at lines {bare} would be written onto the page; make them comments"
