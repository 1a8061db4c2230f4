"""The `dcgan` command: help everywhere, one-line errors, PNGs of the right size."""

import errno
import subprocess
import sys

import pytest
from PIL import Image

from dcgan_lib.cli import main
from dcgan_lib.errors import DCGANError
from dcgan_lib.train import train


@pytest.fixture
def run_dir(tiny_config, tiny_data):
    train(tiny_config, data=tiny_data)
    return tiny_config.out


@pytest.mark.parametrize("command", [[], ["train"], ["sample"], ["interpolate"]])
def test_help_everywhere(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(command + ["--help"])
    assert exit_.value.code == 0
    assert "usage: dcgan" in capsys.readouterr().out


def test_sample_writes_a_grid(run_dir, tmp_path):
    out = tmp_path / "grid.png"
    assert main(["sample", "--checkpoint", run_dir, "--n", "12", "--nrow", "4", "--scale", "1", "--out", str(out)]) == 0
    # 4 columns x 3 rows of 16px images with 2px padding
    assert Image.open(out).size == (4 * 18 + 2, 3 * 18 + 2)


@pytest.mark.parametrize("method", ["lerp", "slerp"])
def test_interpolate_writes_one_row_per_path(run_dir, tmp_path, method):
    out = tmp_path / "walk.png"
    assert main(["interpolate", "--checkpoint", run_dir, "--method", method, "--steps", "5", "--rows", "2",
                 "--scale", "2", "--out", str(out)]) == 0
    assert Image.open(out).size == (2 * (5 * 18 + 2), 2 * (2 * 18 + 2))


@pytest.mark.parametrize("args, words", [
    (["train", "--image-size", "48"], "power of two"),
    (["train", "--dataset", "imagenet"], "unknown dataset 'imagenet'"),
    (["train", "--device", "cuda:0"] if not __import__("torch").cuda.is_available() else ["train", "--device", "tpu"], "cuda"),
    (["train", "--dataset", "mnist", "--data-root", "nowhere"], "nowhere/mnist"),
    (["train", "--dataset", "folder", "--data-root", "."], "no images"),
    (["sample", "--checkpoint", "nowhere/checkpoint.pt"], "no checkpoint at nowhere"),
    (["interpolate", "--checkpoint", "nowhere", "--steps", "1"], "at least 2"),
])
def test_errors_are_one_line_and_exit_non_zero(args, words, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args + (["--no-progress"] if args[0] == "train" else [])) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"dcgan {args[0]}: error:") and words in err


def test_sample_refuses_a_non_png_and_a_corrupt_checkpoint(run_dir, tmp_path, capsys):
    assert main(["sample", "--checkpoint", run_dir, "--out", str(tmp_path / "x.jpg")]) == 2
    assert "must end in .png" in capsys.readouterr().err
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["sample", "--checkpoint", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "corrupt" in capsys.readouterr().err


def test_python_dash_m_and_the_console_script_agree():
    out = subprocess.run([sys.executable, "-m", "dcgan_lib", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("dcgan_lib ")
    bad = subprocess.run([sys.executable, "-m", "dcgan_lib", "sample", "--checkpoint", "missing.pt"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and bad.stderr.count("\n") == 1


def test_evaluate_prints_the_table_for_a_faces_run(tmp_path, capsys):
    from dcgan_lib.config import TrainConfig

    cfg = TrainConfig(image_size=16, n_images=256, width=8, batch_size=64, epochs=1, out=str(tmp_path / "f"), progress=False)
    train(cfg)
    assert main(["evaluate", "--checkpoint", cfg.out, "--n", "200"]) == 0
    out = capsys.readouterr().out
    assert "floor" in out and "ceiling" in out and "gap closed" in out.lower() and "not Inception FID" in out


def test_evaluate_and_eval_every_refuse_datasets_without_a_classifier(run_dir, capsys, tmp_path):
    assert main(["evaluate", "--checkpoint", run_dir]) == 2
    assert "tiny" in capsys.readouterr().err
    assert main(["train", "--dataset", "cifar10", "--eval-every", "1", "--data-root", str(tmp_path), "--no-progress",
                 "--out", str(tmp_path / "c")]) == 2
    assert "cifar10" in capsys.readouterr().err


@pytest.mark.parametrize("args, words", [
    (["train", "--lr", "-1"], "--lr: must be a number > 0"),
    (["train", "--lr", "nan"], "--lr: must be a number > 0"),
    (["train", "--beta1", "2"], "--beta1: must be in [0, 1)"),
    (["train", "--r1", "inf"], "--r1: must be a number >= 0"),
    (["train", "--checkpoint-every", "-5"], "must be 0 or more"),
    (["sample", "--checkpoint", "x", "--seed", "99999999999999999999"], "--seed: must be between 0"),
    (["evaluate", "--checkpoint", "x", "--n", "1"], "--n: must be at least 2"),
    (["train", "--no-such-flag"], "unrecognized arguments"),
])
def test_bad_values_are_refused_by_the_parser_in_one_line(args, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.count("\n") == 1 and words in err and "see `dcgan" in err


def test_an_output_path_through_a_file_is_one_line(run_dir, tmp_path, capsys):
    blocker = tmp_path / "s.png"
    blocker.write_text("a file, not a folder")
    assert main(["sample", "--checkpoint", run_dir, "--out", str(blocker / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "part of that path is a file" in err
    assert main(["train", "--n-images", "256", "--epochs", "1", "--no-progress", "--out", str(blocker / "run")]) == 2
    assert "part of that path is a file" in capsys.readouterr().err


def test_weights_that_do_not_fit_their_recorded_architecture_are_one_line(run_dir, tmp_path, capsys):
    import torch

    from dcgan_lib import checkpoint

    ck = checkpoint.load(run_dir)
    bad = tmp_path / "lies.pt"
    torch.save({**ck, "arch": {**ck["arch"], "width": 16}}, bad)
    assert main(["sample", "--checkpoint", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "do not match its recorded architecture" in err
    torch.save({k: v for k, v in ck.items() if k != "G"}, bad)
    assert main(["sample", "--checkpoint", str(bad), "--out", str(tmp_path / "x.png")]) == 2
    assert "incomplete dcgan_lib checkpoint (missing G)" in capsys.readouterr().err


def test_export_and_train_classifier_never_replace_a_file_silently(run_dir, tmp_path, capsys):
    (tmp_path / "mine.pt").write_bytes(b"keep me")
    assert main(["export", "--checkpoint", run_dir, "--name", "mine", "--out-dir", str(tmp_path)]) == 2
    assert "already exists: pass --force" in capsys.readouterr().err
    assert (tmp_path / "mine.pt").read_bytes() == b"keep me"
    assert main(["export", "--checkpoint", run_dir, "--name", "../evil", "--out-dir", str(tmp_path)]) == 2
    assert "plain file name" in capsys.readouterr().err
    assert main(["export", "--checkpoint", run_dir, "--name", "mine", "--out-dir", str(tmp_path), "--force"]) == 0
    assert (tmp_path / "mine.pt").read_bytes() != b"keep me"
    assert main(["train-classifier", "--kind", "digits", "--out", str(tmp_path / "mine.pt")]) == 2
    assert "already exists: pass --force" in capsys.readouterr().err
    assert main(["train-classifier", "--kind", "digits", "--n", "100", "--out", str(tmp_path / "d.pt")]) == 2
    assert "faces only" in capsys.readouterr().err


def test_saved_files_are_readable_by_others(run_dir):
    import os
    import stat
    from pathlib import Path

    mask = os.umask(0)
    os.umask(mask)
    mode = stat.S_IMODE((Path(run_dir) / "checkpoint.pt").stat().st_mode)
    assert mode == 0o666 & ~mask


def test_one_line_keeps_the_last_line_without_a_class_prefix():
    from dcgan_lib.cli import one_line

    wrapped = RuntimeError("Caught DatasetError in DataLoader worker process 0.\nTraceback ...\n"
                           "dcgan_lib.errors.DatasetError: cannot read image a.jpg: remove it")
    assert one_line(wrapped) == "cannot read image a.jpg: remove it"
    assert one_line(ValueError("need: a colon inside")) == "need: a colon inside"


def test_main_puts_the_warning_printer_back(run_dir, tmp_path):
    import warnings

    before = warnings.showwarning
    assert main(["sample", "--checkpoint", run_dir, "--n", "4", "--out", str(tmp_path / "w.png")]) == 0
    assert warnings.showwarning is before


def test_evaluate_standard_looks_for_real_images_where_the_run_found_them(run_dir, tmp_path, capsys):
    import torch

    from dcgan_lib import checkpoint

    ck = checkpoint.load(run_dir)
    ck["config"] = {**ck["config"], "dataset": "folder", "data_root": str(tmp_path / "my_images")}
    path = tmp_path / "folder_run.pt"
    torch.save(ck, path)
    assert main(["evaluate", "--checkpoint", str(path), "--standard", "--device", "cpu"]) == 2
    assert "my_images" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(path), "--standard", "--device", "cpu", "--data-root", str(tmp_path / "other")]) == 2
    assert "other" in capsys.readouterr().err
    from dcgan_lib.errors import DCGANError
    from dcgan_lib.cli import evaluation_report

    with pytest.raises(DCGANError, match="my_images"):  # the library call defaults to the run's folder too
        evaluation_report(path, standard=True, device="cpu")


@pytest.mark.parametrize("raised, code, line", [
    (KeyboardInterrupt(), 130, "dcgan info: interrupted\n"),
    (DCGANError("the data is gone: put it back"), 2, "dcgan info: error: the data is gone: put it back\n"),
    (PermissionError(errno.EACCES, "Permission denied", "ro/run"), 2,
     "dcgan info: error: permission denied: ro/run: choose a path you can write to\n"),
    (ValueError("image size must be a power of two"), 2, "dcgan info: error: image size must be a power of two\n"),
    (MemoryError(), 2, "dcgan info: error: out of memory: use smaller sizes (--n, --batch-size, --width, --scale)\n"),
    (RuntimeError("an unforeseen failure\nwith detail"), 1, "dcgan info: internal error: RuntimeError: an unforeseen failure "
     "(a bug? rerun with DCGAN_TRACEBACK=1 to see where, and report it)\n"),
], ids=["interrupt", "user-error", "os-error", "value-error", "memory", "bug"])
def test_every_failure_branch_of_main_is_one_line_and_its_exit_code(monkeypatch, capsys, raised, code, line):
    """Each branch of main(): what a command raises decides the exit code and the one line on stderr."""
    import dcgan_lib.cli as cli

    def fail(args):
        raise raised

    monkeypatch.setattr(cli, "_info", fail)  # the parser binds `dcgan info` to cli._info when main() builds it
    monkeypatch.delenv("DCGAN_TRACEBACK", raising=False)
    assert cli.main(["info"]) == code
    captured = capsys.readouterr()
    assert captured.err == line and captured.out == ""
