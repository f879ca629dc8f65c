"""``eegzip view``'s server without a browser: routes, the binary window format, montages,
errors, path traversal, loopback only, and the command's bad-input and Ctrl-C paths."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import eegzip
from eegzip.cli import app
from eegzip.demo import make_demo_edf
from eegzip.errors import UnsupportedError, UsageError
from eegzip.metrics.fidelity import prdn
from eegzip.view import ViewerServer, make_server
from eegzip.view.browser import headless_chromium


@pytest.fixture(scope="module")
def view_eegc(demo_edf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """demo_edf compressed with the default (the ladder's default rung), with metrics."""
    out = tmp_path_factory.mktemp("view") / "demo.eegc"
    eegzip.compress(demo_edf, out)
    return out


@pytest.fixture(scope="module")
def server(view_eegc: Path, demo_edf: Path) -> Iterator[ViewerServer]:
    """A running server for the compressed demo, with its EDF as the reference."""
    running = make_server(view_eegc, 0, demo_edf)
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def get(server: ViewerServer, path: str, host: str | None = None) -> tuple[int, bytes]:
    """Status and body of a GET, the path sent exactly as given (no normalisation)."""
    connection = http.client.HTTPConnection(*server.server_address, timeout=30)
    headers = {} if host is None else {"Host": host}
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, body


def decode(body: bytes) -> tuple[dict, list[np.ndarray]]:
    """Header and one float32 array per trace, as viewer.js reads them."""
    length = int.from_bytes(body[:4], "little")
    assert length % 4 == 0
    header = json.loads(body[4 : 4 + length])
    values = np.frombuffer(body[4 + length :], "<f4")
    arrays, at = [], 0
    for trace in header["traces"]:
        arrays.append(values[at : at + trace["count"]])
        at += trace["count"]
    assert at == values.size
    return header, arrays


def test_binds_loopback_only(server: ViewerServer) -> None:
    assert server.server_address[0] == "127.0.0.1"
    assert server.url.startswith("http://127.0.0.1:")


def test_page_and_script(server: ViewerServer) -> None:
    status, page = get(server, "/")
    assert status == 200 and b'<script src="/viewer.js">' in page
    status, script = get(server, "/viewer.js")
    assert status == 200 and b"/api/window" in script


def test_info(server: ViewerServer, view_eegc: Path) -> None:
    status, body = get(server, "/api/info")
    info = json.loads(body)
    assert status == 200
    assert info["duration"] == 70.0 and len(info["channels"]) == 21
    assert [a["text"] for a in info["annotations"]][:2] == ["eyes closed", "eyes open"]
    assert info["summary"]["codec"].startswith("spectral ladder, 100 bit/s")
    assert info["summary"]["bytes"] == eegzip.info(view_eegc)["bytes"]
    assert info["summary"]["fidelity"]["prdn"] > 0
    assert "Fp1-F7" in info["montages"]["bipolar"] and "Fz-Cz" in info["montages"]["bipolar"]
    assert len(info["montages"]["average"]) == 19  # the EEG channels, not ECG or trigger
    assert info["reference"] == "demo.edf"


def test_window_samples_are_the_readers(server: ViewerServer, view_eegc: Path) -> None:
    status, body = get(server, "/api/window?start=12.5&duration=5&width=4000&channels=EEG%20Cz,ECG")
    header, arrays = decode(body)
    assert status == 200 and header["start"] == 12.5 and header["seconds"] == 5
    signals = [t for t in header["traces"] if t["series"] == "signal"]
    assert [t["name"] for t in signals] == ["EEG Cz", "ECG"]
    assert not any(t["minmax"] for t in header["traces"])
    with eegzip.open(view_eegc) as reader:
        expected = reader.read(12.5, 5, ["EEG Cz", "ECG"])
    np.testing.assert_allclose(arrays[0], expected[0], rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(arrays[1], expected[1], rtol=1e-6, atol=1e-3)


def test_long_page_is_min_max_per_column(server: ViewerServer, view_eegc: Path) -> None:
    status, body = get(server, "/api/window?start=0&duration=60&width=100&channels=EEG%20O1")
    header, arrays = decode(body)
    trace = header["traces"][0]
    assert status == 200 and trace["minmax"] and trace["count"] == 200
    assert trace["samples"] == 60 * 256
    with eegzip.open(view_eegc) as reader:
        x = reader.read(0, 60, ["EEG O1"])[0]
    # column j holds samples [floor(j n / width), floor((j + 1) n / width))
    columns = [x[j * x.size // 100 : (j + 1) * x.size // 100] for j in range(100)]
    pairs = arrays[0].reshape(-1, 2)
    np.testing.assert_allclose(pairs[:, 0], [c.min() for c in columns], rtol=1e-6, atol=1e-3)
    np.testing.assert_allclose(pairs[:, 1], [c.max() for c in columns], rtol=1e-6, atol=1e-3)


def test_montages(server: ViewerServer, view_eegc: Path) -> None:
    with eegzip.open(view_eegc) as reader:
        x = dict(zip(reader.channels, reader.read(30, 2), strict=True))
    _, body = get(server, "/api/window?start=30&duration=2&montage=bipolar&width=4000")
    header, arrays = decode(body)
    names = [t["name"] for t in header["traces"] if t["series"] == "signal"]
    assert names[:4] == ["Fp1-F7", "F7-T7", "T7-P7", "P7-O1"]  # T3/T5 read as T7/P7
    np.testing.assert_allclose(arrays[1], x["EEG F7"] - x["EEG T3"], atol=1e-3)
    _, body = get(server, "/api/window?start=30&duration=2&montage=average&width=4000")
    header, arrays = decode(body)
    eeg = np.array([x[label] for label in x if label.startswith("EEG")])
    assert header["traces"][0]["name"] == "EEG Fp1-avg"
    np.testing.assert_allclose(arrays[0], x["EEG Fp1"] - eeg.mean(axis=0), atol=1e-3)


def test_reference_overlay_and_metrics(server: ViewerServer, demo_edf: Path) -> None:
    _, body = get(server, "/api/window?start=40&duration=10&width=4000&channels=EEG%20C3,ECG")
    header, arrays = decode(body)
    series = [(t["name"], t["series"]) for t in header["traces"]]
    assert series == [("EEG C3", "signal"), ("ECG", "signal"),
                      ("EEG C3", "reference"), ("ECG", "reference")]  # fmt: skip
    with eegzip.open(demo_edf) as original:
        x = original.read(40, 10, ["EEG C3"])[0]
    np.testing.assert_allclose(arrays[2], x, atol=1e-3)
    metrics = header["metrics"]
    assert metrics["prdn"]["EEG C3"] == pytest.approx(float(prdn(x, arrays[0])), rel=1e-4)
    assert metrics["prdn"]["ECG"] == 0.0  # stored losslessly
    ratios = metrics["band_power_ratio"]
    assert set(ratios) == {"delta", "theta", "alpha", "beta", "gamma"}
    assert all(0.3 < r < 3 for r in ratios.values())


def test_cache_returns_the_same_window(server: ViewerServer) -> None:
    session = server.session
    from eegzip.view.server import WindowRequest

    request = WindowRequest.from_query("start=20&duration=10&width=300")
    assert session.window(request) is session.window(request)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=70&duration=10", "outside the recording (0 to 70 s)"),
        ("start=-1", "outside the recording"),
        ("start=0&duration=0", "duration must be in"),
        ("start=0&duration=100000", "duration must be in"),
        ("start=nan", "finite"),
        ("start=abc", "start must be a number"),
        ("montage=laplacian", "montage must be one of"),
        ("channels=EEG%20Xx", "no trace named 'EEG Xx'"),
    ],
)
def test_window_errors(server: ViewerServer, query: str, message: str) -> None:
    status, body = get(server, f"/api/window?{query}")
    assert status == 400
    assert message in json.loads(body)["error"]


@pytest.mark.parametrize(
    "path",
    ["/../etc/passwd", "/%2e%2e/etc/passwd", "//etc/passwd", "/static/index.html",
     "/view/server.py", "/viewer.js/../server.py", "/api/../../pyproject.toml"],
)  # fmt: skip
def test_paths_are_routes_not_files(server: ViewerServer, path: str) -> None:
    status, body = get(server, path)
    assert status == 404 and b"root:" not in body and b"import" not in body


def test_other_host_names_are_refused(server: ViewerServer) -> None:
    status, _ = get(server, "/api/info", host="attacker.example:80")
    assert status == 403


def test_reference_must_be_the_original(view_eegc: Path, tmp_path: Path) -> None:
    other = make_demo_edf(tmp_path / "short.edf", seconds=20)
    with pytest.raises(UsageError, match="not the original"):
        make_server(view_eegc, 0, other)


runner = CliRunner()


def test_view_missing_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["view", str(tmp_path / "none.eegc"), "--no-browser"])
    assert result.exit_code == 3
    assert "no such file" in result.stderr and "Traceback" not in result.output


def test_view_port_in_use(view_eegc: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = runner.invoke(app, ["view", str(view_eegc), "--port", str(port), "--no-browser"])
    assert result.exit_code == 2
    assert "cannot listen on 127.0.0.1" in result.stderr


def test_view_port_out_of_range(view_eegc: Path) -> None:
    result = runner.invoke(app, ["view", str(view_eegc), "--port", "70000", "--no-browser"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_view_command_serves_until_ctrl_c(view_eegc: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "eegzip", "view", str(view_eegc), "--no-browser"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               text=True)  # fmt: skip
    try:
        line = process.stdout.readline()
        assert line.startswith("eegzip view: http://127.0.0.1:"), line
        port = int(line.split("127.0.0.1:")[1].split("/")[0])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/api/info")
        assert json.loads(connection.getresponse().read())["duration"] == 70.0
        connection.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    assert "stopped" in out and "Traceback" not in err


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless chromium, or a skip saying what is missing."""
    try:
        driver = headless_chromium()
    except UnsupportedError as missing:
        pytest.skip(f"browser tests skipped: {missing}")
    yield driver
    driver.quit()


def _wait_for(driver: object, start: float) -> None:
    """Until the page says it shows the window starting at ``start`` s."""
    from selenium.webdriver.support.ui import WebDriverWait

    def shown(d: object) -> bool:
        body = d.find_element("tag name", "body")
        return body.get_attribute("data-state") == "ready" and float(
            body.get_attribute("data-shown-start") or "nan"
        ) == start

    WebDriverWait(driver, 60).until(shown)


def test_browser_draws_pages_and_annotations(browser: object, server: ViewerServer) -> None:
    from PIL import Image
    from selenium.webdriver.common.keys import Keys

    browser.get(server.url)
    _wait_for(browser, 0.0)
    label = browser.find_element("id", "time-label")
    assert label.text == "0:00:00.0 – 0:00:10.0"
    canvas = browser.find_element("id", "traces")

    def trace_area() -> np.ndarray:
        """RGB of the canvas right of the channel labels, from a screenshot."""
        shot = Image.open(io.BytesIO(canvas.screenshot_as_png)).convert("RGB")
        return np.asarray(shot)[:, 100:-20].astype(int)

    def green(pixels: np.ndarray) -> float:  # annotation markers
        return ((pixels[..., 1] > 100) & (pixels[..., 0] < 60) & (pixels[..., 2] < 90)).mean()

    traces = trace_area()
    drawn = (traces.sum(axis=2) < 600).mean()  # not white
    blue = ((traces[..., 2] > 100) & (traces[..., 0] < 80)).mean()  # the reconstruction
    red = ((traces[..., 0] > 200) & (traces[..., 1] < 140)).mean()  # the original
    assert drawn > 0.02 and blue > 0.005 and red > 0.002, (drawn, blue, red)
    assert green(traces) == 0  # no annotation in the first 10 s

    browser.find_element("tag name", "body").send_keys(Keys.ARROW_RIGHT)
    _wait_for(browser, 10.0)
    assert label.text == "0:00:10.0 – 0:00:20.0"
    assert green(trace_area()) > 0.0001  # "eyes closed" at 10.5 s
    assert "PRDN" in browser.find_element("id", "window-metrics").text

    items = browser.find_elements("css selector", "#annotations li.annotation")
    assert [i.text for i in items][:2] == ["0:00:10.5 eyes closed", "0:00:38.5 eyes open"]
    items[1].click()  # centres the annotation on the page
    _wait_for(browser, 33.5)
    assert label.text == "0:00:33.5 – 0:00:43.5"


def test_browser_controls(browser: object, server: ViewerServer) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    browser.get(server.url)
    _wait_for(browser, 0.0)
    body = browser.find_element("tag name", "body")
    sensitivity = Select(browser.find_element("id", "sensitivity"))
    assert sensitivity.first_selected_option.text == "7"
    body.send_keys("+")
    assert sensitivity.first_selected_option.text == "5"
    body.send_keys("-")
    body.send_keys("-")
    assert sensitivity.first_selected_option.text == "10"

    Select(browser.find_element("id", "montage")).select_by_value("bipolar")
    _wait_for(browser, 0.0)
    names = [e.text for e in browser.find_elements("css selector", "#channels label")]
    assert names[:2] == ["Fp1-F7", "F7-T7"] and len(names) == 18

    jump = browser.find_element("id", "jump")
    jump.send_keys("0:00:42" + Keys.ENTER)
    _wait_for(browser, 42.0)
    overview = browser.find_element("id", "overview")
    ActionChains(browser).move_to_element_with_offset(
        overview, -overview.size["width"] // 4, 0
    ).click().perform()  # at 25 % of the strip: the page centred on 17.5 s

    def moved(d: object) -> bool:
        return body.get_attribute("data-state") == "ready" and float(
            body.get_attribute("data-shown-start")
        ) != 42.0

    WebDriverWait(browser, 60).until(moved)
    assert float(body.get_attribute("data-shown-start")) == pytest.approx(12.5, abs=0.2)
