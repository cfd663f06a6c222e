"""Finding the images to caption: files, folders and globs, by content rather than by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from openai_gemini_vision.caption import find_images, is_image_file

from .imaging import image_bytes


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """photos/ with images at two depths, a mislabelled image, and a text file named .png."""
    root = tmp_path / "photos"
    (root / "trip" / "day2").mkdir(parents=True)
    (root / "a.png").write_bytes(image_bytes("PNG"))
    (root / "trip" / "b.jpg").write_bytes(image_bytes("JPEG"))
    (root / "trip" / "day2" / "c.gif").write_bytes(image_bytes("GIF"))
    (root / "trip" / "really-a-webp.txt").write_bytes(image_bytes("WEBP"))
    (root / "notes.png").write_text("not an image, whatever the name says")
    (root / "empty.jpg").write_bytes(b"")
    return root


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF"])
def test_images_are_recognised_by_their_bytes(tmp_path: Path, fmt: str) -> None:
    """Every common format is recognised from its header, under a name that says nothing."""
    path = tmp_path / "file.bin"
    path.write_bytes(image_bytes(fmt))
    assert is_image_file(path)


def test_a_folder_is_searched_recursively_by_content(tree: Path) -> None:
    """Images at every depth are found, top down in name order; a text file named .png is not."""
    found = find_images([str(tree)])
    names = [Path(p).relative_to(tree).as_posix() for p in found.files]
    assert names == ["a.png", "trip/b.jpg", "trip/really-a-webp.txt", "trip/day2/c.gif"]
    assert sorted(Path(p).name for p in found.not_images) == ["empty.jpg", "notes.png"]


def test_globs_are_expanded_when_the_shell_did_not(tree: Path) -> None:
    """A quoted glob, recursive `**` included, is expanded here."""
    found = find_images([str(tree / "**" / "*.jpg"), str(tree / "*.png")])
    assert [Path(p).name for p in found.files] == ["b.jpg", "a.png"]
    assert [Path(p).name for p in found.not_images] == ["empty.jpg", "notes.png"]


def test_a_file_reached_twice_is_listed_once(tree: Path) -> None:
    """Naming a file and its folder does not caption it twice."""
    found = find_images([str(tree / "a.png"), str(tree)])
    assert [Path(p).name for p in found.files].count("a.png") == 1


def test_a_path_matching_nothing_is_named_in_the_error(tmp_path: Path) -> None:
    """A typo fails before any work, naming the path."""
    with pytest.raises(FileNotFoundError, match=r"nope\*\.png"):
        find_images([str(tmp_path / "nope*.png")])
