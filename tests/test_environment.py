"""The environment report and the Colab hooks, with Colab's modules faked (this machine is not Colab)."""

import sys
import types

import pytest

from dcgan_lib import environment


@pytest.fixture
def fake_colab(monkeypatch):
    """google.colab with the two calls the course makes, recording them instead of talking to Colab."""
    calls = []
    colab = types.ModuleType("google.colab")
    colab.output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append("widgets"))
    colab.drive = types.SimpleNamespace(mount=lambda where: calls.append(("mount", where)))
    google = types.ModuleType("google")
    google.colab = colab
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    return calls


def test_colab_widget_manager_is_enabled_on_colab_only(fake_colab, monkeypatch):
    assert environment.on_colab()
    environment.enable_colab_widgets()
    assert fake_colab == ["widgets"]
    monkeypatch.delitem(sys.modules, "google.colab")
    assert not environment.on_colab()
    environment.enable_colab_widgets()
    assert fake_colab == ["widgets"]


def test_runs_folder_mounts_drive_for_a_drive_path_on_colab(fake_colab, monkeypatch, tmp_path):
    monkeypatch.setattr(environment, "DRIVE", tmp_path / "drive")  # stands in for /content/drive
    folder = environment.runs_folder(tmp_path / "drive" / "MyDrive" / "dcgan" / "nb03")
    assert fake_colab == [("mount", str(tmp_path / "drive"))] and folder.is_dir()
    # a local folder, or Drive already mounted: no second mount
    assert environment.runs_folder(tmp_path / "runs").is_dir()
    environment.runs_folder(tmp_path / "drive" / "MyDrive" / "other")
    assert fake_colab == [("mount", str(tmp_path / "drive"))]


def test_runs_folder_off_colab_just_creates_the_folder(tmp_path):
    assert not environment.on_colab()
    assert environment.runs_folder(tmp_path / "a" / "b") == tmp_path / "a" / "b" and (tmp_path / "a" / "b").is_dir()


def test_report_lists_versions_and_device():
    text = environment.report()
    assert "torch" in text and "ipywidgets" in text and "device" in text
