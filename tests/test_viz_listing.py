"""The listings the chapters print: the package's source without docstrings, and tables."""

from __future__ import annotations

import ast
import inspect

import pytest

from convref import functional, nn, reference, viz


def test_show_source_is_the_source_without_its_docstring():
    listing = viz.show_source(reference.conv2d)
    source = inspect.getsource(reference.conv2d)
    assert reference.conv2d.__doc__.strip().splitlines()[0] in source
    assert reference.conv2d.__doc__.strip().splitlines()[0] not in listing.code
    # the same program with the docstring statement dropped (ast.dump ignores positions)
    expected = ast.parse(source)
    expected.body[0].body = expected.body[0].body[1:]
    assert ast.dump(ast.parse(listing.code)) == ast.dump(expected)


def test_show_source_links_the_documented_name():
    assert viz.show_source(reference.conv2d).link == (
        "convref.reference.conv2d",
        "func",
    )
    assert viz.show_source(nn.ASPP.forward).link == ("convref.nn.ASPP", "class")
    markdown = viz.show_source(nn.ASPP.forward)._repr_markdown_()
    assert "{py:class}`convref.nn.ASPP`" in markdown and "```python\n" in markdown


def test_show_source_links_only_names_a_package_front_exports():
    # public in its module, but not exported by convref.reference: no API entry to link
    from convref.reference import deformable

    assert "bilinear_sample" not in reference.__all__
    assert viz.show_source(deformable.bilinear_sample).link is None


def test_show_source_of_a_private_helper_has_no_link():
    listing = viz.show_source(functional.adder._backward)
    assert listing.link is None
    assert "internal: not on the API page" in listing._repr_markdown_()


def test_show_source_html_is_highlighted_for_live_notebooks():
    html = viz.show_source(reference.conv2d)._repr_html_()
    assert "<span" in html and "conv2d" in html


def test_strip_docstrings_keeps_a_body_that_was_only_a_docstring_valid():
    code = viz.listing.strip_docstrings(
        'class A:\n    """Doc."""\n\n    def f(self):\n        """Only this."""\n'
    )
    assert '"""' not in code
    namespace: dict = {}
    exec(compile(code, "<test>", "exec"), namespace)
    assert namespace["A"]().f() is None


def test_show_source_rejects_what_has_no_source():
    with pytest.raises(TypeError, match="obj must be a module, class, function"):
        viz.show_source(3)
    with pytest.raises(TypeError, match="source must be a str"):
        viz.listing.strip_docstrings(b"x = 1")


def test_show_table_formats_each_column_as_markdown_and_html():
    table = viz.show_table(
        [[1200, 0.5], [34, 0.25]], ["params", "share"], formats=[",d", ".1%"]
    )
    assert table.rows == (("1,200", "50.0%"), ("34", "25.0%"))
    lines = table._repr_markdown_().splitlines()
    assert lines[0] == "| params | share |" and lines[2] == "| 1,200 | 50.0% |"
    assert "<th>params</th>" in table._repr_html_()


def test_show_table_rejects_ragged_rows_and_wrong_formats():
    with pytest.raises(ValueError, match=r"rows\[1\] must have 2 values"):
        viz.show_table([[1, 2], [3]], ["a", "b"])
    with pytest.raises(ValueError, match="formats must give one spec per column"):
        viz.show_table([[1, 2]], ["a", "b"], formats=["d"])
    with pytest.raises(ValueError, match="header must name at least one column"):
        viz.show_table([], [])
