"""The step-through page in a real browser: headless Chromium driven through selenium.

The page is opened from disk (file://), as a student opens a file a teacher sent. Every
check is against :func:`~tinygrad_edu.viz.backward_steps`, and every test fails on any
message the page logs to the browser console. One browser serves the whole module.
Where Chromium, its driver or selenium is missing, the tests skip and say which.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tinygrad_edu.gallery import tanh_neuron
from tinygrad_edu.page import inline_frame
from tinygrad_edu.viz import BackwardStep, backward_steps, format_number, save_html

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
# CI sets this: there the browser tests must run, and a missing browser is a failure.
REQUIRED = os.environ.get("TINYGRAD_EDU_REQUIRE_BROWSER") == "1"


def _skip_or_fail(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"TINYGRAD_EDU_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


try:
    from selenium import webdriver
except ImportError:
    _skip_or_fail("selenium is not installed")
if CHROMIUM is None or CHROMEDRIVER is None:
    _skip_or_fail(
        "no headless browser: install Chromium and its driver "
        "(Debian: apt-get install -y chromium chromium-driver)"
    )

from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

DESKTOP = (1280, 800)
PHONE = (390, 844)
FORWARD_FRAMES = 10  # the neuron's ten Values, one appearing per frame


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", f"--window-size={DESKTOP[0]},{DESKTOP[1]}"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = webdriver.ChromeService(executable_path=CHROMEDRIVER)
    try:
        driver = webdriver.Chrome(options=options, service=service)
    except WebDriverException as error:  # installed but unable to start here
        _skip_or_fail(f"Chromium did not start: {error.msg}")
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def neuron_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = save_html(tanh_neuron(), tmp_path_factory.mktemp("page") / "neuron_steps.html")
    return path.as_uri()


@pytest.fixture(scope="module")
def steps() -> list[BackwardStep]:
    return backward_steps(tanh_neuron())


@pytest.fixture(autouse=True)
def no_console_messages(browser: Any) -> Iterator[None]:
    """Fail the test on anything the page logs to the console (errors, CSP violations)."""
    browser.get_log("browser")  # drop what earlier tests left
    browser.set_window_size(*DESKTOP)
    yield
    assert console_messages(browser) == []


def console_messages(browser: Any) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser")]


def open_page(browser: Any, url: str) -> None:
    """A fresh load (not a same-document hash change), then wait for the first frame."""
    browser.get("about:blank")
    browser.get(url)
    WebDriverWait(browser, 5).until(lambda b: b.find_element(By.ID, "line").text != "")


def press(browser: Any, key: str, times: int = 1) -> None:
    for _ in range(times):
        ActionChains(browser).send_keys(key).perform()


def line(browser: Any) -> str:
    text: str = browser.find_element(By.ID, "line").text
    return text


def outlined(browser: Any) -> WebElement:
    (node,) = browser.find_elements(By.CSS_SELECTOR, "g.node.current")
    return node


def fields(node: WebElement) -> list[str]:
    texts = node.find_elements(By.TAG_NAME, "text")
    return [text.get_attribute("textContent") or "" for text in texts]


def check_step(browser: Any, step: BackwardStep) -> None:
    """The page shows ``step``: its line, its node outlined with its gradient, its URL."""
    assert line(browser) == str(step)
    node_fields = fields(outlined(browser))
    assert node_fields[0] == step.node.label
    assert node_fields[-1] == f"grad {format_number(step.grads[step.node])}"
    assert browser.current_url.endswith(f"#step={step.index}")


# ---- stepping ----------------------------------------------------------------------------------


def test_right_arrow_walks_the_backward_steps_and_left_arrow_walks_back(
    browser: Any, neuron_url: str, steps: list[BackwardStep]
) -> None:
    open_page(browser, neuron_url + "#step=0")
    check_step(browser, steps[0])
    for step in steps[1:]:
        press(browser, Keys.ARROW_RIGHT)
        check_step(browser, step)
    press(browser, Keys.ARROW_RIGHT)  # past the end: stays on the last step
    check_step(browser, steps[-1])
    for step in reversed(steps[:-1]):
        press(browser, Keys.ARROW_LEFT)
        check_step(browser, step)


def test_every_gradient_on_screen_is_the_steps(
    browser: Any, neuron_url: str, steps: list[BackwardStep]
) -> None:
    o = tanh_neuron()
    labels = {node.label for node in steps[-1].grads}
    for k in (0, 3, 6, 9):
        open_page(browser, f"{neuron_url}#step={k}")
        shown = {}
        for node in browser.find_elements(By.CSS_SELECTOR, "g.node"):
            texts = fields(node)
            if texts[0] in labels:
                shown[texts[0]] = texts[-1]
        expected = {n.label: f"grad {format_number(g)}" for n, g in steps[k].grads.items()}
        assert shown == expected
    assert o.grad == 0.0


def test_a_link_opens_at_its_step(browser: Any, neuron_url: str, steps: list[BackwardStep]) -> None:
    open_page(browser, neuron_url + "#step=7")
    check_step(browser, steps[7])
    slider = browser.find_element(By.ID, "slider")
    assert slider.get_attribute("value") == str(FORWARD_FRAMES + 7)
    open_page(browser, neuron_url + "#step=99")  # past the end: the last step
    check_step(browser, steps[-1])


def test_the_page_opens_on_the_forward_pass_then_plays_into_the_backward_pass(
    browser: Any, neuron_url: str, steps: list[BackwardStep]
) -> None:
    open_page(browser, neuron_url)
    assert line(browser) == "x1 = 2.0  (a leaf: given, not computed)"
    assert browser.current_url.endswith("#forward=1")
    visible_counts = []
    for _ in range(FORWARD_FRAMES - 1):
        visible = browser.find_elements(By.CSS_SELECTOR, "g.node:not(.pending)")
        visible_counts.append(len(visible))
        press(browser, Keys.ARROW_RIGHT)
    assert visible_counts == sorted(visible_counts) and visible_counts[0] == 1
    assert line(browser) == "o = tanh(n) = tanh(0.8814) = 0.7071"
    assert browser.find_elements(By.CSS_SELECTOR, "g.pending") == []  # all computed
    assert fields(outlined(browser))[0] == "o"
    press(browser, Keys.ARROW_RIGHT)
    check_step(browser, steps[0])


def test_buttons_and_the_slider_move_between_frames(
    browser: Any, neuron_url: str, steps: list[BackwardStep]
) -> None:
    open_page(browser, neuron_url + "#step=4")
    browser.find_element(By.ID, "next").click()
    check_step(browser, steps[5])
    browser.find_element(By.ID, "previous").click()
    browser.find_element(By.ID, "previous").click()
    check_step(browser, steps[3])
    slider = browser.find_element(By.ID, "slider")
    slider.send_keys(Keys.ARROW_RIGHT)  # the range input's own keys, not the page's
    check_step(browser, steps[4])
    browser.execute_script(
        "arguments[0].value = arguments[1];arguments[0].dispatchEvent(new Event('input'));",
        slider,
        FORWARD_FRAMES + 8,
    )
    check_step(browser, steps[8])


def test_play_advances_by_itself_and_pause_stops_it(
    browser: Any, neuron_url: str, steps: list[BackwardStep]
) -> None:
    open_page(browser, neuron_url + "#step=1")
    play = browser.find_element(By.ID, "play")
    assert play.get_attribute("aria-label") == "Play"
    play.click()
    assert play.get_attribute("aria-pressed") == "true"
    WebDriverWait(browser, 5).until(lambda b: line(b) == str(steps[2]))
    play.click()
    assert play.get_attribute("aria-label") == "Play"
    paused_at = line(browser)
    time.sleep(1.5)  # longer than the 1.2 s a played frame lasts
    assert line(browser) == paused_at


def test_the_browser_fetches_nothing(browser: Any, neuron_url: str) -> None:
    open_page(browser, neuron_url + "#step=3")
    resources = browser.execute_script("return performance.getEntriesByType('resource').length")
    assert resources == 0


def test_a_console_error_would_fail_these_tests(browser: Any, neuron_url: str) -> None:
    open_page(browser, neuron_url)
    browser.execute_script("console.error('planted')")
    assert any("planted" in message for message in console_messages(browser))


# ---- reading it: phone, projector, accessibility ---------------------------------------------


def test_controls_have_accessible_names(browser: Any, neuron_url: str) -> None:
    open_page(browser, neuron_url)
    for button in browser.find_elements(By.TAG_NAME, "button"):
        assert button.accessible_name, button.get_attribute("id")
    assert browser.find_element(By.ID, "slider").accessible_name == "Frame"
    assert browser.find_element(By.ID, "line").get_attribute("aria-live") == "polite"


def test_on_a_phone_the_graph_scrolls_to_the_outlined_node_and_the_controls_stay(
    browser: Any, neuron_url: str, steps: list[BackwardStep]
) -> None:
    browser.set_window_size(*PHONE)
    open_page(browser, neuron_url + "#step=0")
    graph = browser.find_element(By.ID, "graph")
    assert "fit" not in (graph.get_attribute("class") or "")  # fitted, it would be unreadable
    assert graph.get_property("scrollWidth") > graph.get_property("clientWidth")
    width, height = browser.execute_script("return [innerWidth, innerHeight]")
    for step in steps[:7]:
        check_step(browser, step)
        for control in ("previous", "play", "next", "slider", "line"):
            box = browser.find_element(By.ID, control).rect
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, control
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, control
        node = outlined(browser).rect
        view = graph.rect
        assert view["x"] <= node["x"] and node["x"] + node["width"] <= view["x"] + view["width"]
        press(browser, Keys.ARROW_RIGHT)


def test_large_text_enlarges_the_line_and_the_graph(browser: Any, neuron_url: str) -> None:
    open_page(browser, neuron_url + "#step=6")
    text_size = "return parseFloat(getComputedStyle(document.getElementById('line')).fontSize)"
    before = browser.execute_script(text_size)
    box_before = outlined(browser).rect["height"]
    large = browser.find_element(By.ID, "large")
    large.click()
    assert large.get_attribute("aria-pressed") == "true"
    assert browser.execute_script(text_size) >= 1.5 * before
    assert outlined(browser).rect["height"] >= 1.5 * box_before
    large.click()
    assert browser.execute_script(text_size) == before


def test_the_notebook_frame_works_inside_its_iframe(
    browser: Any, tmp_path: Path, steps: list[BackwardStep]
) -> None:
    wrapper = tmp_path / "notebook.html"
    wrapper.write_text(f"<!DOCTYPE html><html><body>{inline_frame(tanh_neuron())}</body></html>")
    browser.get(wrapper.as_uri())
    browser.switch_to.frame(browser.find_element(By.TAG_NAME, "iframe"))
    try:
        WebDriverWait(browser, 5).until(lambda b: line(b) != "")
        for _ in range(FORWARD_FRAMES + 2):
            browser.find_element(By.ID, "next").click()
        assert line(browser) == str(steps[2])
        assert fields(outlined(browser))[0] == steps[2].node.label
        # A "#step=" URL here would load the notebook itself into the frame.
        assert browser.execute_script("return location.href") == "about:srcdoc"
    finally:
        browser.switch_to.default_content()
