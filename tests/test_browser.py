"""The course's sliders in a real browser: JupyterLab in headless Chromium runs notebooks 00 and 04 (FAST),
then the test moves each slider with the keyboard and with the mouse and checks what the kernel drew back.

The headless widget tests (test_widgets.py) call update() directly; only a browser shows that the widgets
render as sliders (the lab extension is found), that a moved slider reaches the kernel, and that the new
PNG reaches the page. Needs Debian's chromium and the playwright package; it never downloads a browser.
Run: python -m pytest tests/test_browser.py -m browser -v -s   (screenshots go to $DCGAN_ARTIFACTS)
"""

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("DCGAN_CHROMIUM", "/usr/bin/chromium")
INSTALL = "install Debian's chromium (apt-get install chromium) and pip install playwright"
ARTIFACTS = Path(os.environ.get("DCGAN_ARTIFACTS") or ROOT / "runs" / "test-artifacts" / "browser")
NOTEBOOKS = ("00_setup.ipynb", "04_latent_walk.ipynb")
# --host-resolver-rules: every host name but 127.0.0.1 fails to resolve, so nothing leaves the machine
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
LAB_FLAGS = ["--no-browser", "--allow-root", "--IdentityProvider.token=", "--ServerApp.password=",
             "--ServerApp.terminals_enabled=False", "--LabApp.collaborative=False",
             "--LabApp.news_url=None",  # no announcements feed
             "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
             "--LabApp.extension_manager=readonly"]  # the default one asks PyPI
LAB_SETTINGS = {  # user settings of the child JupyterLab, in its own settings folder
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    # every cell stays attached to the DOM, so prompts and outputs off screen can be read
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
RUN_ALL_S, REDRAW_S = 300, 30


def wait_for(condition, seconds: float, what, every: float = 0.25):
    """Poll condition() until it is truthy (return it) or fail after `seconds` saying what never happened
    (`what` may be a function, called then, to describe the state at the time)."""
    end = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            pytest.fail(f"{what() if callable(what) else what} (waited {seconds:.0f} s)", pytrace=False)
        time.sleep(every)


def fast_copy(source: Path, target: Path) -> None:
    """The notebook with FAST = True after its parameters cell (as `dcgan grade` does) and no outputs."""
    nb = nbformat.read(source, as_version=4)
    at = next(k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(at + 1, nbformat.v4.new_code_cell("FAST = True  # injected by test_browser"))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.metadata.pop("widgets", None)  # saved widget state would render before the kernel runs
    nbformat.write(nb, target)


def free_port() -> int:
    with socket.socket() as s:  # the OS picks a free port; the server takes it a moment later
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def server_up(url: str, proc: subprocess.Popen, log: Path) -> bool:
    if proc.poll() is not None:
        pytest.fail(f"JupyterLab exited ({proc.returncode}) at start:\n{log.read_text()[-2000:]}", pytrace=False)
    try:
        return "started" in get_json(f"{url}/api/status")
    except OSError:
        return False


def widgets_extension_on(url: str) -> bool:
    """Whether the page config lists @jupyter-widgets/jupyterlab-manager, not disabled (else widgets show as text)."""
    with urllib.request.urlopen(f"{url}/lab", timeout=10) as response:
        html = response.read().decode()
    config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', html, re.S).group(1))
    name = "@jupyter-widgets/jupyterlab-manager"
    return name in {e["name"] for e in config["federated_extensions"]} and name not in config["disabledExtensions"]


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium, or the reason it cannot start (the tests then fail with it, they never skip)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        yield f"the browser test needs the playwright package: {INSTALL}"
        return
    if not Path(CHROMIUM).exists():
        yield f"the browser test needs Chromium at {CHROMIUM}: {INSTALL}"
        return
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                              timeout=60_000)
    except Exception as e:
        playwright.stop()
        yield f"Chromium at {CHROMIUM} did not start ({str(e).splitlines()[0]}): {INSTALL}"
        return
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """URL of a JupyterLab with its own settings, serving FAST copies of the two notebooks; stopped afterwards."""
    if isinstance(browser, str):  # no browser: don't spend time starting a server
        yield None
        return
    for old in ARTIFACTS.glob("0[04]_*"):  # this test's own screenshots from an earlier run, nothing else
        old.unlink()
    home = tmp_path_factory.mktemp("lab")
    served = home / "notebooks"
    served.mkdir()
    for name in NOTEBOOKS:
        fast_copy(ROOT / "notebooks" / name, served / name)
    for plugin, values in LAB_SETTINGS.items():
        path = home / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    # JUPYTER_PATH and the data folders stay: the widgets lab extension and the kernel spec live there
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"), "JUPYTER_RUNTIME_DIR": str(home / "runtime")}
    env.pop("MPLBACKEND", None)  # CI's Agg would turn the notebooks' plt.show() into warnings, not figures
    port, log = free_port(), home / "server.log"
    url = f"http://127.0.0.1:{port}"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "jupyterlab", *LAB_FLAGS, "--ServerApp.ip=127.0.0.1",
                                 f"--ServerApp.port={port}", f"--ServerApp.root_dir={served}"],
                                cwd=served, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: server_up(url, proc, log), 90, f"JupyterLab did not answer on {url}/api/status")
        if not widgets_extension_on(url):
            pytest.fail("JupyterLab has no enabled widgets extension: pip install jupyterlab_widgets", pytrace=False)
        yield url
    finally:  # SIGTERM lets the server shut its kernels down; kill if it hangs
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def open_notebook(page, lab: str, name: str) -> None:
    """The notebook in its own, reset workspace (no other notebook restored), its kernel started and connected."""
    page.goto(f"{lab}/lab/workspaces/{name[:2]}/tree/{name}?reset")
    page.wait_for_selector(".jp-NotebookPanel .jp-CodeCell")
    wait_for(lambda: twice(lambda: kernel_ready(page, lab, name)), 120, f"the kernel of {name} did not start")


def twice(condition) -> bool:
    """condition() now and again a second later: the page's indicators flicker while the kernel connects."""
    return condition() and (time.sleep(1) or condition())


def kernel_ready(page, lab: str, name: str) -> bool:
    """The server has an idle kernel for the notebook that the page is connected to, and the page shows it idle
    (its own indicator alone reads "idle" before any kernel exists)."""
    sessions = [s for s in get_json(f"{lab}/api/sessions") if s["path"] == name]
    return (bool(sessions) and sessions[0]["kernel"]["execution_state"] == "idle"
            and sessions[0]["kernel"]["connections"] > 0 and kernel_status(page) == "idle")


def kernel_status(page) -> str:
    dialog = page.locator(".jp-Dialog .jp-mod-accept")
    if dialog.count():  # "Select Kernel": accept the proposed Python 3 kernel
        dialog.first.click()
    return page.locator(".jp-Notebook-ExecutionIndicator").first.get_attribute("data-status") or ""


def menu(page, top: str, item: str) -> None:
    page.locator(f'.lm-MenuBar-itemLabel:text-is("{top}")').click()
    page.locator(f'.lm-Menu-itemLabel:text-is("{item}")').click()


def run_all(page, lab: str, name: str) -> None:
    """Run > Run All Cells, wait until the kernel is done, then read the saved notebook for error outputs."""
    menu(page, "Run", "Run All Cells")
    prompts = page.locator(".jp-CodeCell .jp-InputPrompt")

    def finished():  # idle with nothing queued ("[*]"); a run stopped by an error leaves "[ ]" behind
        texts = [t.strip() for t in prompts.all_inner_texts()]
        return kernel_status(page) == "idle" and "[*]:" not in texts and any(t[1:-2].isdigit() for t in texts)
    wait_for(lambda: twice(finished), RUN_ALL_S,
             lambda: f"{name} did not finish: kernel {kernel_status(page)}, prompts {prompts.all_inner_texts()}")
    # the DOM cannot tell a traceback from tqdm's stderr; the saved notebook's output types can
    before = get_json(f"{lab}/api/contents/{name}?content=0")["last_modified"]
    menu(page, "File", "Save Notebook")
    wait_for(lambda: get_json(f"{lab}/api/contents/{name}?content=0")["last_modified"] != before, 30,
             f"{name} was not saved")
    cells = [c for c in get_json(f"{lab}/api/contents/{name}")["content"]["cells"] if c["cell_type"] == "code"]
    errors = [f"{o['ename']}: {o['evalue']} in cell [{c['execution_count']}] {c['source'].splitlines()[0]!r}"
              for c in cells for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{name} raised in the browser: " + "; ".join(errors)
    assert all(c["execution_count"] for c in cells), f"{name}: run all stopped before the last cell"
    outputs = "\n".join(page.locator(".jp-OutputArea").all_inner_texts())
    fallback = re.search(r"(InterpolationSlider|DirectionSliders|HBox|VBox)\(children=", outputs)
    assert not fallback, f"{name}: widgets shown as text ({fallback.group(0)}...): is the lab extension loaded?"
    shot(page, f"{name[:2]}_after_run")


def shot(page, label: str, element=None, full: bool = True) -> None:
    """A PNG of `element` if given and a small full-page JPEG (a few tens of KB each) into the artefacts folder."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    if element is not None:
        element.scroll_into_view_if_needed()
        element.screenshot(path=ARTIFACTS / f"{label}_widget.png")
    if full:
        page.screenshot(path=ARTIFACTS / f"{label}.jpg", type="jpeg", quality=25)


def slider_output(page, description: str):
    """The output area that holds the slider labelled `description`, and that slider's row."""
    row = page.locator(".widget-slider").filter(
        has=page.locator(".widget-label", has_text=re.compile(rf"^{re.escape(description)}$")))
    assert row.count() == 1, f"no slider {description!r} rendered as a widget (found {row.count()})"
    output = page.locator(".jp-OutputArea-output").filter(has=row)
    assert output.locator(".jupyter-widgets").count(), f"slider {description!r} is not inside a rendered widget"
    return output, row


def move_by_keyboard(page, row, presses: int = 3) -> None:
    """Focus the noUiSlider handle and step it; with continuous_update=False each key press sends a value."""
    handle = row.locator(".noUi-handle")
    key = "ArrowRight" if towards_max(row) else "ArrowLeft"
    handle.focus()
    for _ in range(presses):
        handle.press(key)


def move_by_mouse(page, row, share: float = 0.3) -> None:
    """Drag the handle a share of the track; the value is sent when the button is released."""
    handle = row.locator(".noUi-handle")
    handle.scroll_into_view_if_needed()  # the mouse works in viewport coordinates
    track, box = row.locator(".noUi-base").bounding_box(), handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    dx = share * track["width"] * (1 if towards_max(row) else -1)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y, steps=8)
    page.mouse.up()
    page.mouse.move(0, 0)  # no hover highlight left on a handle in the screenshots


def towards_max(row) -> bool:
    """Up, unless the handle sits in the top part of its range (the notebook leaves t at 1.0): room to move."""
    lo, hi = (float(row.locator(".noUi-handle").get_attribute(a)) for a in ("aria-valuemin", "aria-valuemax"))
    return slider_value(row) < lo + 0.75 * (hi - lo)


def slider_value(row) -> float:
    """The value the slider's readout shows (aria-valuenow is rounded to one decimal); d3 writes − for minus."""
    return float(row.locator(".widget-readout").inner_text().replace("\u2212", "-"))


def move(page, row, how: str, description: str) -> float:
    """Move the slider by keyboard or mouse, wait until its readout shows a new value and return that value."""
    before = slider_value(row)
    (move_by_keyboard if how == "keyboard" else move_by_mouse)(page, row)
    wait_for(lambda: slider_value(row) != before, 10, f"slider {description!r} did not move by {how} (still {before})")
    return slider_value(row)


def face(output):
    """The widget's image: its blob URL (new for every PNG the kernel sends) and the pixels on screen."""
    image = output.locator("img.widget-image")
    return image.get_attribute("src"), image.screenshot()


def check_redraw(page, output, row, description: str, label: str) -> None:
    """Move the slider by keyboard, then by mouse; after each the kernel must send a different face."""
    shot(page, f"04_{label}_before", output, full=False)
    for how in ("keyboard", "mouse"):
        src, pixels = face(output)
        value = move(page, row, how, description)
        wait_for(lambda: face(output)[0] != src and face(output)[1] != pixels, REDRAW_S,
                 f"slider {description!r} moved to {value} by {how} but its image was not redrawn")
        shot(page, f"04_{label}_{how}", output)


@contextlib.contextmanager
def notebook(browser, lab: str, name: str):
    """The notebook open in a fresh page and run; a screenshot if anything fails; the page closed after."""
    if isinstance(browser, str):
        pytest.fail(browser, pytrace=False)
    print(f"\n{name}: screenshots in {ARTIFACTS}")
    page = browser.new_page(viewport={"width": 1000, "height": 720})
    page.set_default_timeout(60_000)  # every Playwright action is bounded too
    outside = []  # what the page tried to fetch from other hosts (blocked by the resolver rules): printed
    page.on("request", lambda r: r.url.startswith(("http://127.0.0.1", "blob:", "data:")) or outside.append(r.url))
    try:
        open_notebook(page, lab, name)
        run_all(page, lab, name)
        yield page
        print(f"{name}: requests to other hosts: {outside or 'none'}")
    except BaseException:  # pytest.fail raises a BaseException
        with contextlib.suppress(Exception):  # a crashed page must not hide the failure
            shot(page, f"{name[:2]}_failed")
        raise
    finally:
        page.close()


def test_setup_notebook_slider_squares_in_the_browser(browser, lab):
    with notebook(browser, lab, "00_setup.ipynb") as page:
        output, row = slider_output(page, "x")
        label = output.locator(".widget-label").filter(has_text="x²")
        assert label.inner_text() == "x² = 16", f"the check cell shows {label.inner_text()!r}"
        shot(page, "00_x_before", output, full=False)
        for how in ("keyboard", "mouse"):
            value = int(move(page, row, how, "x"))
            wait_for(lambda: label.inner_text() == f"x² = {value ** 2}", REDRAW_S,
                     lambda: f"slider x moved to {value} by {how} but the label reads {label.inner_text()!r}")
            shot(page, f"00_x_{how}", output)


def test_latent_walk_sliders_redraw_the_face(browser, lab):
    with notebook(browser, lab, "04_latent_walk.ipynb") as page:
        # the InterpolationSlider's t (left at 1.0 by the notebook) and one of the DirectionSliders
        for description, label in (("t", "interpolation"), ("smiling", "smiling")):
            output, row = slider_output(page, description)
            check_redraw(page, output, row, description, label)
