"""The web console in a real headless Chromium (Debian's chromium and chromium-driver), driven
with Selenium: crates/gatehouse/tests/e2e/console_browser.rs runs it against a real server and
asserts on the JSON line it prints last: {"passed": [...], "failed": {name: reason}}.

Usage: console_browser.py BASE_URL SHOTS_DIR FAILURES_DIR
  BASE_URL      the server, with an admin root / root-password-1, a viewer watcher /
                watcher-password-1, users member000..member119 and member077 holding a session
  SHOTS_DIR     where to save a screenshot of each page ("" for none): docs/console
  FAILURES_DIR  where to save the page of a failed scenario
"""

import base64
import hashlib
import hmac
import json
import os
import struct
import sys
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE, SHOTS, FAILURES = sys.argv[1], sys.argv[2], sys.argv[3]
CHROMIUM = os.environ.get("GATEHOUSE_TEST_CHROMIUM", "/usr/bin/chromium")
DRIVER = os.environ.get("GATEHOUSE_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")


def totp(secret, step):
    """RFC 6238 (HMAC-SHA-1, 6 digits), computed here from the enrolment secret."""
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">q", step), hashlib.sha1).digest()
    offset = digest[19] & 0xF
    number = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return "%06d" % (number % 1000000)


# How long a page may take to load or an element to appear. CI runs this beside the rest of the
# suite on two busy cores, where a page behind an argon2 verification can take seconds.
PATIENCE = 30


def browser(width=1280, height=900):
    """A headless Chromium. Starting one is retried: on a loaded machine chromedriver can give up
    on a browser that is slow to start ("DevToolsActivePort file doesn't exist"), which is the
    machine's trouble, not the console's."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                f"--window-size={width},{height}"):
        options.add_argument(arg)
    for attempt in range(3):
        try:
            driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
            driver.set_page_load_timeout(PATIENCE * 2)
            return driver
        except Exception:  # noqa: BLE001 - reported, then retried
            if attempt == 2:
                raise
            traceback.print_exc(file=sys.stderr)
            print("chromium did not start; trying again", file=sys.stderr)
            time.sleep(2)


def shot(driver, name):
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
        driver.save_screenshot(os.path.join(SHOTS, name + ".png"))


def wait(driver, by, what):
    """The element once the page that has it has loaded (a click's navigation is not awaited)."""
    return WebDriverWait(driver, PATIENCE).until(EC.presence_of_element_located((by, what)))


def gone(element):
    """A wait condition: `element`'s page has been replaced. Selenium's `staleness_of` knows one
    way the browser says so (a stale element reference); Chromium also answers a check of a
    node caught mid-navigation with "Node with given id does not belong to the document" (a
    plain WebDriverException), which means the same and is the same answer here."""
    def check(_driver):
        try:
            element.is_enabled()
            return False
        except StaleElementReferenceException:
            return True
        except WebDriverException as err:
            if "does not belong to the document" in str(err):
                return True
            raise
    return check


def click_and_load(driver, element_id):
    """Clicks a button or link that loads a page, and waits until the old page is gone."""
    element = driver.find_element(By.ID, element_id)
    element.click()
    WebDriverWait(driver, PATIENCE).until(gone(element))


def fill(driver, field_id, text):
    element = driver.find_element(By.ID, field_id)
    element.clear()
    element.send_keys(text)


def check(condition, message):
    if not condition:
        raise AssertionError(message)


def sign_in(driver, user, password, shots=False):
    driver.get(BASE + "/admin/login")
    if shots:
        shot(driver, "login")
    fill(driver, "username", user)
    fill(driver, "password", password)
    click_and_load(driver, "sign-in")
    secret = wait(driver, By.ID, "totp-secret").text.strip()
    check(driver.find_elements(By.CSS_SELECTOR, ".qr svg"), "no QR code on the enrolment page")
    if shots:
        shot(driver, "mfa-enrolment")
    fill(driver, "otp", totp(secret, int(time.time()) // 30))
    click_and_load(driver, "verify")
    wait(driver, By.ID, "sign-out")
    check(driver.current_url.rstrip("/").endswith("/admin"), "not on the dashboard: " + driver.current_url)
    check("Dashboard" in driver.page_source, "no dashboard")


def http(path, form, basic=None):
    request = urllib.request.Request(BASE + path, data=urllib.parse.urlencode(form).encode())
    if basic:
        token = base64.b64encode(("%s:%s" % basic).encode()).decode()
        request.add_header("Authorization", "Basic " + token)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def admin_signs_in_with_password_and_totp(d, state):
    sign_in(d, "root", "root-password-1", shots=True)
    shot(d, "dashboard")
    check(d.find_elements(By.CSS_SELECTOR, "svg.chart"), "no chart on the dashboard")


def create_a_client_and_use_it(d, state):
    d.get(BASE + "/admin/clients")
    fill(d, "new-id", "browser-app")
    fill(d, "new-resource", json.dumps({"grant_types": ["password"], "scopes": ["read"]}))
    click_and_load(d, "create-client")
    secret = wait(d, By.ID, "secret").text.strip()
    check(len(secret) >= 32, "no secret shown")
    status, body = http("/oauth/token", {"grant_type": "password", "username": "member001",
                                         "password": "member-password-1"},
                        basic=("browser-app", secret))
    check(status == 200 and body.get("access_token"), "the new client's grant failed: %s %s" % (status, body))
    d.get(BASE + "/admin/clients?q=browser")
    check("browser-app" in d.page_source, "the new client is not listed")
    shot(d, "clients")
    d.get(BASE + "/admin/clients/browser-app")
    shot(d, "client")


def find_a_user_reset_password_and_end_sessions(d, state):
    d.get(BASE + "/admin/users")
    check(d.find_elements(By.ID, "next-page"), "no next page among many users")
    shot(d, "users")
    fill(d, "q", "member077")
    click_and_load(d, "search")
    links = d.find_elements(By.LINK_TEXT, "member077")
    check(len(links) == 1, "member077 not found by the search")
    links[0].click()
    WebDriverWait(d, PATIENCE).until(gone(links[0]))
    wait(d, By.ID, "set-password")
    check(len(d.find_elements(By.CSS_SELECTOR, "tr.session")) >= 1, "member077 has no session listed")
    shot(d, "user")
    fill(d, "new-password", "reset-in-the-browser-7")
    click_and_load(d, "set-password")
    click_and_load(d, "revoke-all")
    wait(d, By.ID, "no-sessions")
    status, _ = http("/oauth/token", {"grant_type": "password", "username": "member077",
                                      "password": "reset-in-the-browser-7"},
                     basic=("app", "app-secret"))
    check(status == 200, "the new password does not work: %s" % status)


def filter_events(d, state):
    d.get(BASE + "/admin/events")
    fill(d, "kind", "login_success")
    fill(d, "user", "member077")
    click_and_load(d, "filter")
    rows = d.find_elements(By.CSS_SELECTOR, "tr.event")
    check(rows, "no event found by the filter")
    for row in rows:
        cells = row.find_elements(By.TAG_NAME, "td")
        check(cells[1].text == "login_success" and cells[2].text == "member077",
              "an event outside the filter: " + row.text)
    shot(d, "events")


def rotate_a_key(d, state):
    d.get(BASE + "/admin/keys")
    before = len(d.find_elements(By.CSS_SELECTOR, "tr.key"))
    click_and_load(d, "rotate-keys")
    check("Keys rotated" in wait(d, By.ID, "message").text, "no rotation message")
    click_and_load(d, "continue")
    after = len(d.find_elements(By.CSS_SELECTOR, "tr.key"))
    check(after == before + 1, "keys: %d before, %d after" % (before, after))
    shot(d, "keys")


def a_viewer_cannot_change_anything(_, state):
    v = browser()
    state["viewer"] = v
    sign_in(v, "watcher", "watcher-password-1")
    v.get(BASE + "/admin/users/member078")
    check(not v.find_elements(By.ID, "set-password"), "a viewer sees the password form")
    check(not v.find_elements(By.ID, "revoke-all"), "a viewer sees the end-sessions button")
    v.get(BASE + "/admin/keys")
    check(not v.find_elements(By.ID, "rotate-keys"), "a viewer sees the rotate button")
    before = len(v.find_elements(By.CSS_SELECTOR, "tr.key"))
    # A form the page does not offer, with the viewer's own CSRF token: still refused.
    v.execute_script("""
        const f = document.createElement('form');
        f.method = 'post'; f.action = '/admin/keys/rotate';
        const t = document.querySelector('input[name=csrf_token]').cloneNode();
        f.appendChild(t); document.body.appendChild(f); f.submit();""")
    WebDriverWait(v, PATIENCE).until(EC.url_contains("/admin/keys/rotate"))
    check("403" in v.page_source, "the viewer's forged rotation was not refused")
    v.get(BASE + "/admin/keys")
    check(len(v.find_elements(By.CSS_SELECTOR, "tr.key")) == before, "the viewer rotated a key")


def phone_width_dashboard(_, state):
    """The admin's session in a phone-width window: no sideways scrolling."""
    p = browser(390, 844)
    state["phone"] = p
    p.get(BASE + "/admin/login")
    for cookie in state["admin"].get_cookies():
        if cookie["name"] == "gatehouse_console":
            p.add_cookie({"name": cookie["name"], "value": cookie["value"], "path": "/admin",
                          "httpOnly": True, "sameSite": "Strict"})
    p.get(BASE + "/admin/users")
    check("Users" in p.title, "not signed in at phone width: " + p.title)
    check(p.execute_script("return document.documentElement.scrollWidth <= window.innerWidth + 1"),
          "the users page scrolls sideways at phone width")
    shot(p, "users-phone")


SCENARIOS = [
    admin_signs_in_with_password_and_totp,
    create_a_client_and_use_it,
    find_a_user_reset_password_and_end_sessions,
    filter_events,
    rotate_a_key,
    a_viewer_cannot_change_anything,
    phone_width_dashboard,
]


def main():
    passed, failed = [], {}
    admin = browser()
    state = {"admin": admin}
    try:
        for scenario in SCENARIOS:
            name = scenario.__name__
            try:
                scenario(admin, state)
                passed.append(name)
            except Exception as err:  # noqa: BLE001 - every failure is reported, with its page
                failed[name] = "%s: %s" % (type(err).__name__, err)
                traceback.print_exc(file=sys.stderr)
                os.makedirs(FAILURES, exist_ok=True)
                for key, driver in state.items():
                    if hasattr(driver, "save_screenshot"):
                        driver.save_screenshot(os.path.join(FAILURES, "%s-%s.png" % (name, key)))
    finally:
        for driver in state.values():
            if hasattr(driver, "quit"):
                driver.quit()
    print(json.dumps({"passed": passed, "failed": failed}))


main()
