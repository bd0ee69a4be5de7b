"""pstgui — drive the real postern-gtk through accessibility (AT-SPI) under Xvfb.

A Session starts, inside one temporary directory, what a desktop session of a test needs: Xvfb on a free display
(with an X cookie), a private D-Bus session bus, the AT-SPI bus and its registry, optionally gnome-keyring (the
Secret Service, unlocked with a known password).  start_app() runs postern-gtk in it and finds the application in
the accessibility tree by its name and process id.  Everything started here is stopped on every way out: a normal
end, an exception, atexit, SIGTERM/SIGINT/SIGHUP.

The helpers poll: libatspi caches nothing while no AT-SPI main loop runs, so every read asks the application
afresh, and a wait is a loop on a condition with a timeout, never a fixed sleep.

Checks print in the style of tests/integration/lib.sh: "ok - …" / "not ok - …", details as "# …" lines, and at
the end "N passed, M failed"; finish() returns the exit status.
"""

import atexit
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

Atspi = None  # imported by Session.start, once the session's buses are in the environment

# Scaled by PSTGUI_TIMEOUT_SCALE (e.g. 3 under valgrind); sanitizer builds are slow to start.
TIMEOUT_SCALE = float(os.environ.get("PSTGUI_TIMEOUT_SCALE", "1"))
DEFAULT_TIMEOUT = 20.0


class GuiTimeout(AssertionError):
    """A wait_for that ran out of time; the message says what was awaited and what was seen last."""


# ---------------------------------------------------------------------------------------------------------------
# Checks

_passed = 0
_failed = 0


def _comment(text):
    for line in str(text).splitlines() or [""]:
        print("#   " + line if line else "#", flush=True)


def ok(what):
    global _passed
    _passed += 1
    print("ok - " + what, flush=True)


def not_ok(what, detail=None):
    global _failed
    _failed += 1
    print("not ok - " + what, flush=True)
    if detail:
        _comment(detail)


def check(what, cond, detail=None):
    """ok if cond is true (a callable is called, and an exception in it is a failure with its message), else
    not_ok with detail (a string, or a callable giving one: what was expected and what was seen).  Returns cond's
    truth."""
    try:
        value = cond() if callable(cond) else cond
    except Exception as e:  # noqa: BLE001 — any failure of the check is the check's failure
        not_ok(what, f"{type(e).__name__}: {e}")
        return False
    if value:
        ok(what)
        return True
    not_ok(what, detail() if callable(detail) else detail)
    return False


def add_counts(passed, failed):
    """Adds checks counted elsewhere (the shell part of a test) to the final line."""
    global _passed, _failed
    _passed += passed
    _failed += failed


# The patterns of tests/integration/lib.sh's check_agent_logs.
REPORT_PATTERN = re.compile(r"runtime error:|ERROR: (Address|Leak|UndefinedBehavior)Sanitizer|CRITICAL|critical:")


def check_logs(session, what="postern-gtk and the agents logged no sanitizer report or critical warning"):
    """One check over the logs of every app of the session (their stderr: also that of the agents they started)
    and of the agents of its homes (<home>/data/posternd.log): none may hold a sanitizer report or a critical
    warning.  Call it after session.stop_agents(), so that the agents' exit reports are in."""
    logs = [a.log_path for a in session.all_apps] + \
        [os.path.join(h, "data", "posternd.log") for h in sorted(h for h in session.homes if h)]
    bad = []
    for path in logs:
        try:
            with open(path, errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        if REPORT_PATTERN.search(text):
            lines = text.splitlines()
            first = next(i for i, line in enumerate(lines) if REPORT_PATTERN.search(line))
            bad.append(f"{path}:\n" + "\n".join(lines[max(first - 5, 0):first + 55]))
    return check(what, not bad, lambda: "\n".join(bad))


def finish():
    """Prints "N passed, M failed" and returns the exit status (0 when nothing failed)."""
    print(f"{_passed} passed, {_failed} failed", flush=True)
    return 0 if _failed == 0 else 1


# ---------------------------------------------------------------------------------------------------------------
# Waiting


def wait_for(predicate, what, timeout=DEFAULT_TIMEOUT, seen=None, interval=0.05):
    """Calls predicate until it returns a true value, and returns that value.  Errors raised by it (an object that
    went away, an application that is busy) count as "not yet".  After timeout seconds (scaled) raises GuiTimeout
    naming `what`, with seen() — a description of the state last observed — when given."""
    deadline = time.monotonic() + timeout * TIMEOUT_SCALE
    last_error = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last_error = None
        except GuiTimeout:
            raise
        except Exception as e:  # noqa: BLE001 — the application's tree changes under us
            last_error = e
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)
    msg = f"timed out after {timeout * TIMEOUT_SCALE:.0f} s waiting for {what}"
    if last_error is not None:
        msg += f"; last error: {type(last_error).__name__}: {last_error}"
    if seen is not None:
        try:
            msg += f"; seen: {seen()}"
        except Exception as e:  # noqa: BLE001
            msg += f"; (could not describe the state: {e})"
    raise GuiTimeout(msg)


# ---------------------------------------------------------------------------------------------------------------
# The accessibility tree


def role_name(node):
    return node.get_role_name()


def name_of(node):
    return node.get_name() or ""


def states(node):
    """The names of the node's states, as a set of lower-case words ("showing", "visible", "selected", …)."""
    ss = node.get_state_set()
    return {Atspi.StateType(s).value_nick for s in ss.get_states()}


def is_showing(node):
    ss = node.get_state_set()
    return ss.contains(Atspi.StateType.SHOWING) and ss.contains(Atspi.StateType.VISIBLE)


def children(node):
    n = node.get_child_count()
    out = []
    for i in range(n):
        c = node.get_child_at_index(i)
        if c is not None:
            out.append(c)
    return out


def walk(node, showing_only=False, limit=5000):
    """The nodes under node (node first), depth first; with showing_only, hidden subtrees are skipped."""
    stack = [node]
    count = 0
    while stack and count < limit:
        n = stack.pop()
        count += 1
        if showing_only and n is not node and not is_showing(n):
            continue
        yield n
        stack.extend(reversed(children(n)))


def _matches(node, role, name, text):
    if role is not None and role_name(node) != role:
        return False
    if name is not None and not (name(name_of(node)) if callable(name) else name_of(node) == name):
        return False
    if text is not None:
        t = text_of(node)
        return bool(text(t)) if callable(text) else text in t
    return True


def find_all(node, role=None, name=None, showing=True, text=None):
    """Every node under node with that role name ("push button", "label", "table", …; None: any), accessible
    name (a string for an exact match, a callable on the name, or None: any) and text (see text_of: a string it
    must contain, a callable on it, or None: any).  showing: only what is on screen."""
    return [n for n in walk(node, showing_only=showing) if _matches(n, role, name, text)]


def _what(role, name, text):
    what = f"a {role or 'node'}"
    if name is not None:
        what += f" named {name!r}" if isinstance(name, str) else " with a matching name"
    if text is not None:
        what += f" whose text contains {text!r}" if isinstance(text, str) else " with a matching text"
    return what


def has_interface(node, iface):
    """Whether the node implements the AT-SPI interface named iface ("Text", "Action", "Table", "EditableText",
    "Component", "Selection", …).  The interfaces' functions are called as Atspi.<Interface>.<function>(node, …):
    the Accessible implements them (the get_*_iface accessors are deprecated)."""
    return iface in node.get_interfaces()


def describe(node, depth=0, max_depth=12, showing=True):
    """The subtree as indented "role 'name'" lines (with the text of labels and text fields), for failure
    messages; showing: hidden subtrees left out."""
    lines = []

    def rec(n, d):
        if d > max_depth or len(lines) > 400:
            return
        if showing and d > 0 and not is_showing(n):
            return
        extra = ""
        try:
            if role_name(n) in ("label", "text", "entry", "password text") and has_interface(n, "Text"):
                extra = f" text={text_of(n)[:80]!r}"
        except Exception:  # noqa: BLE001
            pass
        lines.append(f"{'  ' * d}{role_name(n)} {name_of(n)!r}{extra}")
        for c in children(n):
            rec(c, d + 1)

    rec(node, depth)
    return "\n".join(lines)


def find(node, role=None, name=None, timeout=DEFAULT_TIMEOUT, showing=True, text=None):
    """The first node under node with that role, name and text (see find_all), waiting up to timeout seconds for
    one to appear.  Raises GuiTimeout, listing what is there, when none does."""
    found = wait_for(lambda: find_all(node, role, name, showing, text), _what(role, name, text), timeout,
                     seen=lambda: "\n" + describe(node, showing=showing))
    return found[0]


def gone(node, role=None, name=None, timeout=DEFAULT_TIMEOUT, text=None):
    """Waits until no node with that role, name and text is showing under node."""
    wait_for(lambda: not find_all(node, role, name, True, text), f"no longer {_what(role, name, text)} showing",
             timeout, seen=lambda: "\n" + describe(node))


def text_of(node):
    """The node's text (Text interface: labels, entries, text views, table cells), else its accessible name."""
    if has_interface(node, "Text"):
        # One call, to the end (-1): the count and the text asked for in two
        # calls could belong to two versions of a label that changed between
        # them (a CI run read the first 44 characters of the new text).
        return Atspi.Text.get_text(node, 0, -1)
    return name_of(node)


def actions(node):
    """The names of the node's actions ("click", "activate", …)."""
    if not has_interface(node, "Action"):
        return []
    return [Atspi.Action.get_action_name(node, i) for i in range(Atspi.Action.get_n_actions(node))]


def do_action(node, action="click"):
    """Performs the node's action named `action` (Action interface); raises if it has none such."""
    names = actions(node)
    if action not in names:
        raise AssertionError(f"{role_name(node)} {name_of(node)!r} has no action {action!r} (it has {names})")
    if not Atspi.Action.do_action(node, names.index(action)):
        raise AssertionError(f"the {action!r} action of {role_name(node)} {name_of(node)!r} failed")


def click(under, name, role="push button", timeout=DEFAULT_TIMEOUT):
    """Clicks the showing, sensitive button named `name` under `under` (waiting for it) through its "click"
    action: no pointer, no keyboard focus, no window manager involved.  Returns the button."""
    button = find(under, role, name, timeout)
    wait_for(lambda: button.get_state_set().contains(Atspi.StateType.SENSITIVE),
             f"button {name!r} to be sensitive", timeout)
    do_action(button, "click")
    return button


def type_into(under, name, text, role=None, timeout=DEFAULT_TIMEOUT):
    """Replaces the text of the showing editable node named `name` under `under` (an entry, a text view; role
    None: any with the EditableText interface) by `text`, through EditableText.set_text_contents — GtkEntry emits
    "changed" as for typing, and no keyboard focus is needed (synthesized key events would go to the focused
    window, and without a window manager nothing guarantees which one that is) — and waits until it reads back
    `text`.  Returns the node."""
    def editable():
        return next((n for n in find_all(under, role, name) if has_interface(n, "EditableText")), None)
    node = wait_for(editable, f"an editable {role or 'node'} named {name!r}", timeout,
                    seen=lambda: "\n" + describe(under))
    # As a user can: not into a field that is not sensitive yet (one that
    # waits for what the agent says), whose text would be replaced.
    wait_for(lambda: node.get_state_set().contains(Atspi.StateType.SENSITIVE),
             f"{role_name(node)} {name!r} to be sensitive", timeout)
    if not Atspi.EditableText.set_text_contents(node, text):
        raise AssertionError(f"set_text_contents on {role_name(node)} {name!r} was refused")
    wait_for(lambda: text_of(node) == text, f"{role_name(node)} {name!r} to read back {text!r}", timeout,
             seen=lambda: repr(text_of(node)))
    return node


def table_rows(table):
    """The rows of a table (a GtkTreeView: Table interface) as a list of dicts {column header: cell text};
    columns without a header are named by their index as a string ("0")."""
    if not has_interface(table, "Table"):
        raise AssertionError(f"{role_name(table)} {name_of(table)!r} is not a table")
    ncols = Atspi.Table.get_n_columns(table)
    headers = []
    for c in range(ncols):
        h = Atspi.Table.get_column_header(table, c)
        headers.append((name_of(h) if h is not None else "") or str(c))
    rows = []
    for r in range(Atspi.Table.get_n_rows(table)):
        row = {}
        for c in range(ncols):
            cell = Atspi.Table.get_accessible_at(table, r, c)
            row[headers[c]] = text_of(cell) if cell is not None else ""
        rows.append(row)
    return rows


def select_row(table, row):
    """Selects row `row` of a table (Table.add_row_selection: GtkTreeSelection emits "changed" as for a click)
    and waits until the table says it is selected.  Nothing to do when it already is: GtkTreeView selects its
    first row by itself when it takes the focus (GTK refuses to select a selected row again)."""
    if Atspi.Table.is_row_selected(table, row):
        return
    if not Atspi.Table.add_row_selection(table, row):
        raise AssertionError(f"the table refused to select row {row}")
    wait_for(lambda: Atspi.Table.is_row_selected(table, row), f"row {row} to be selected")


def extents(node):
    """(x, y, width, height) of the node on the screen."""
    r = Atspi.Component.get_extents(node, Atspi.CoordType.SCREEN)
    return (r.x, r.y, r.width, r.height)


# ---------------------------------------------------------------------------------------------------------------
# Screenshots

_shot_count = 0


def screenshot(name, node=None, settle=2.0, numbered=True):
    """Saves the screen — or, with node, the screen area of that node (e.g. the app's window) — as PNG in
    $SCREENSHOT_DIR (default: the session's directory), named NN-name.png in the order taken (the NN-*.png of an
    earlier run are removed at the first one), or name.png when not numbered.  The accessibility tree changes
    before the application repaints, so it first waits (up to settle seconds) for two grabs in a row to be the
    same.  Returns the path, or None (with a comment) when it could not be taken: a screenshot is evidence, not a
    check."""
    global _shot_count
    directory = os.environ.get("SCREENSHOT_DIR") or (_session.dir if _session else tempfile.gettempdir())
    os.makedirs(directory, exist_ok=True)
    if _shot_count == 0:
        for old in os.listdir(directory):
            if re.fullmatch(r"\d\d-.*\.png", old):
                os.unlink(os.path.join(directory, old))
    _shot_count += 1
    path = os.path.join(directory, f"{_shot_count:02d}-{name}.png" if numbered else f"{name}.png")
    try:
        import gi
        gi.require_version("Gdk", "3.0")
        from gi.repository import Gdk
        root = Gdk.get_default_root_window()
        x, y, w, h = 0, 0, root.get_width(), root.get_height()
        if node is not None:
            nx, ny, nw, nh = extents(node)
            x0, y0 = max(nx, 0), max(ny, 0)
            x1, y1 = min(nx + nw, w), min(ny + nh, h)
            if x1 > x0 and y1 > y0:
                x, y, w, h = x0, y0, x1 - x0, y1 - y0
        pixbuf = Gdk.pixbuf_get_from_window(root, x, y, w, h)
        deadline = time.monotonic() + settle * TIMEOUT_SCALE
        while time.monotonic() < deadline:
            time.sleep(0.1)
            again = Gdk.pixbuf_get_from_window(root, x, y, w, h)
            same = again.get_pixels() == pixbuf.get_pixels()
            pixbuf = again
            if same:
                break
        pixbuf.savev(path, "png", [], [])
    except Exception as e:  # noqa: BLE001
        _comment(f"screenshot {path} not taken: {type(e).__name__}: {e}")
        return None
    print(f"# screenshot: {path}", flush=True)
    return path


# ---------------------------------------------------------------------------------------------------------------
# The session


def _log(msg):
    if os.environ.get("PSTGUI_DEBUG"):
        print(f"# pstgui: {msg}", file=sys.stderr, flush=True)


def _descendants(pid):
    """The pids of pid's descendants (from /proc), children before grandchildren."""
    parent_of = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parent_of[int(entry)] = ppid
    out, frontier = [], [pid]
    while frontier:
        kids = [p for p, pp in parent_of.items() if pp in frontier]
        out.extend(kids)
        frontier = kids
    return out


def _stop_process(proc, name, grace=5.0):
    """SIGTERM to proc and its descendants, SIGKILL to whatever is left after grace seconds."""
    if proc.poll() is not None:
        return
    family = _descendants(proc.pid)
    _log(f"stopping {name} (pid {proc.pid}, descendants {family})")
    for pid in [proc.pid] + family:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + grace
    for pid in family:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


class App:
    """A running postern-gtk.  .root is its accessible application, .window() its showing frame."""

    def __init__(self, session, proc, log_path, home, env):
        self.session = session
        self.proc = proc
        self.log_path = log_path
        self.home = home
        self.env = env
        self.root = None

    def window(self, timeout=DEFAULT_TIMEOUT):
        """The application's showing top-level window (role "frame")."""
        return wait_for(lambda: next((c for c in children(self.root)
                                      if role_name(c) == "frame" and is_showing(c)), None),
                        "the application's window to be showing", timeout,
                        seen=lambda: "\n" + describe(self.root, showing=False, max_depth=2))

    def running(self):
        return self.proc.poll() is None

    def log(self):
        """What the application (and any agent it started) wrote on stderr/stdout so far."""
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def close(self, timeout=DEFAULT_TIMEOUT):
        """Ends the application as a user would — the window's Close button — so that it exits normally (and
        sanitizers run their exit checks); SIGTERM if that fails.  Returns the exit status."""
        if self.running() and self.root is None:
            _stop_process(self.proc, "postern-gtk")
        elif self.running():
            try:
                # Every window it has open (a compose window keeps the app
                # running), in whichever language it speaks; the newest
                # first, as a user would: GTK ignores Close on a window
                # while a modal window of it is open (the shortcuts window).
                frames = [n for n in children(self.root) if role_name(n) == "frame" and is_showing(n)]
                for frame in reversed(frames) if frames else [self.window(5)]:
                    click(frame, lambda n: n in ("Close", "Schließen"), timeout=5)
                self.proc.wait(timeout * TIMEOUT_SCALE)
            except Exception as e:  # noqa: BLE001
                _comment(f"postern-gtk did not exit through its Close button ({e}); terminating it")
                _stop_process(self.proc, "postern-gtk")
        self.session.apps.discard(self)
        return self.proc.returncode


class Session:
    """A private desktop session: Xvfb, D-Bus session bus, AT-SPI bus and registry, optionally gnome-keyring.

    Environment it sets for itself and for everything started in it: DISPLAY, XAUTHORITY, DBUS_SESSION_BUS_ADDRESS,
    AT_SPI_BUS_ADDRESS, XDG_RUNTIME_DIR (a 0700 directory of its own: CI runs as root without one), HOME and the
    XDG base directories (inside the session directory)."""

    def __init__(self, keyring=False, keyring_password="keyring-pass", screen="1280x800x24", notifications=False):
        self.keyring = keyring
        self.keyring_password = keyring_password
        self.notifications = notifications
        self.screen = screen
        self.dir = None
        self.env = None
        self.procs = []        # (name, Popen), stopped in reverse order
        self.apps = set()      # running
        self.all_apps = []     # ever started, for their logs
        self.homes = set()     # Postern homes whose agents are stopped at the end (None: the default one)

    # -- starting ---------------------------------------------------------------------------------------------

    def _spawn(self, name, argv, **kw):
        log = open(os.path.join(self.dir, name + ".log"), "wb")
        kw.setdefault("stdin", subprocess.DEVNULL)
        kw.setdefault("stdout", log)
        kw.setdefault("stderr", log)
        proc = subprocess.Popen(argv, env=self.env, **kw)
        log.close()
        self.procs.append((name, proc))
        _log(f"started {name}: pid {proc.pid}: {' '.join(argv)}")
        return proc

    def _read_line_from(self, fd, proc, name, timeout=20.0):
        """The first line a child writes on the pipe fd (its display number, its bus address)."""
        data = b""
        deadline = time.monotonic() + timeout * TIMEOUT_SCALE
        os.set_blocking(fd, False)
        while b"\n" not in data:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with status {proc.returncode} before it was ready: "
                                   f"{self._tail(name)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} was not ready after {timeout} s: {self._tail(name)}")
            try:
                chunk = os.read(fd, 4096)
                if not chunk:
                    time.sleep(0.02)
                data += chunk
            except BlockingIOError:
                time.sleep(0.02)
        os.close(fd)
        return data.split(b"\n", 1)[0].decode().strip()

    def _tail(self, name):
        try:
            with open(os.path.join(self.dir, name + ".log"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return "(no log)"

    def start(self):
        global Atspi, _session
        if _session is not None:
            raise RuntimeError("one Session at a time")
        _session = self
        _install_handlers()
        # Short: Unix socket paths (at-spi, dbus, keyring) live below it.
        self.dir = tempfile.mkdtemp(prefix="pstgui.", dir="/tmp")
        os.chmod(self.dir, 0o700)
        env = dict(os.environ)
        for k in ("DISPLAY", "WAYLAND_DISPLAY", "XAUTHORITY", "DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS",
                  "GNOME_KEYRING_CONTROL", "SSH_AUTH_SOCK", "SESSION_MANAGER", "GTK_MODULES",
                  # GTK 3 loads its AT-SPI bridge unless NO_AT_BRIDGE=1 (measured: nothing more is needed, as root too)
                  "NO_AT_BRIDGE",
                  "GTK_A11Y", "LC_ALL", "LC_MESSAGES"):
            env.pop(k, None)
        home = os.path.join(self.dir, "home")
        runtime = os.path.join(self.dir, "run")
        for d in (home, runtime):
            os.mkdir(d, 0o700)
        env.update({
            "HOME": home, "XDG_RUNTIME_DIR": runtime,
            "XDG_CONFIG_HOME": os.path.join(home, ".config"), "XDG_DATA_HOME": os.path.join(home, ".local/share"),
            "XDG_CACHE_HOME": os.path.join(home, ".cache"),
            "GDK_BACKEND": "x11",
            # No real session: keep GLib from looking for one (gvfs, portals).
            "GIO_USE_VFS": "local", "GTK_USE_PORTAL": "0",
        })
        self.env = env
        # Nothing on screen changes by itself (a blinking cursor, an animation), so that a screenshot can wait
        # for the screen to be still, and the GTK settings are the same on every machine.
        os.makedirs(os.path.join(env["XDG_CONFIG_HOME"], "gtk-3.0"))
        with open(os.path.join(env["XDG_CONFIG_HOME"], "gtk-3.0", "settings.ini"), "w") as f:
            f.write("[Settings]\ngtk-cursor-blink=false\ngtk-enable-animations=false\n"
                    "gtk-theme-name=Adwaita\ngtk-font-name=DejaVu Sans 10\n")

        # X: a cookie, so that no other local user's client can connect and type into the test.
        xauth = os.path.join(self.dir, "Xauthority")
        cookie = secrets.token_hex(16)
        open(xauth, "wb").close()
        subprocess.run(["xauth", "-q", "-f", xauth, "add", ":0", "MIT-MAGIC-COOKIE-1", cookie], check=True,
                       env=env, stdin=subprocess.DEVNULL)
        r, w = os.pipe()
        xvfb = self._spawn("xvfb", ["Xvfb", "-displayfd", str(w), "-screen", "0", self.screen, "-nolisten", "tcp",
                                    "-noreset", "-auth", xauth], pass_fds=(w,))
        os.close(w)
        display = ":" + self._read_line_from(r, xvfb, "xvfb")
        subprocess.run(["xauth", "-q", "-f", xauth, "add", display, "MIT-MAGIC-COOKIE-1", cookie], check=True,
                       env=env, stdin=subprocess.DEVNULL)
        env["DISPLAY"] = display
        env["XAUTHORITY"] = xauth

        r, w = os.pipe()
        bus = self._spawn("dbus-session", ["dbus-daemon", "--session", "--nofork", "--nosyslog",
                                           f"--address=unix:dir={self.dir}", f"--print-address={w}"],
                          pass_fds=(w,))
        os.close(w)
        env["DBUS_SESSION_BUS_ADDRESS"] = self._read_line_from(r, bus, "dbus-session")

        # The AT-SPI bus: the launcher owns org.a11y.Bus on the session bus and runs the a11y dbus-daemon;
        # --a11y=1 makes org.a11y.Status.IsEnabled true for toolkits that ask.
        self._spawn("at-spi-bus-launcher", ["/usr/libexec/at-spi-bus-launcher", "--launch-immediately",
                                            "--a11y=1"])
        address = wait_for(lambda: self._a11y_address(), "the AT-SPI bus (org.a11y.Bus.GetAddress)", 20,
                           seen=lambda: self._tail("at-spi-bus-launcher"))
        env["AT_SPI_BUS_ADDRESS"] = address
        self._spawn("at-spi2-registryd", ["/usr/libexec/at-spi2-registryd"])

        if self.keyring:
            self._start_keyring()
        if self.notifications:
            self._start_notifications()

        os.environ.clear()
        os.environ.update(env)
        import gi
        gi.require_version("Atspi", "2.0")
        from gi.repository import Atspi as _Atspi
        Atspi = _Atspi
        Atspi.init()
        # Sanitizer builds answer slowly at first; the default (800 ms, then 15 s at startup) is too short.
        Atspi.set_timeout(int(10000 * TIMEOUT_SCALE), int(30000 * TIMEOUT_SCALE))
        wait_for(lambda: Atspi.get_desktop(0) is not None and self._registry_up(),
                 "the AT-SPI registry", 20, seen=lambda: self._tail("at-spi2-registryd"))
        return self

    def _a11y_address(self):
        out = subprocess.run(["dbus-send", "--session", "--print-reply=literal", "--dest=org.a11y.Bus",
                              "/org/a11y/bus", "org.a11y.Bus.GetAddress"], env=self.env, capture_output=True,
                             text=True, stdin=subprocess.DEVNULL, timeout=10)
        return out.stdout.strip() if out.returncode == 0 and out.stdout.strip().startswith("unix:") else None

    def _registry_up(self):
        out = subprocess.run(["dbus-send", f"--bus={self.env['AT_SPI_BUS_ADDRESS']}", "--print-reply",
                              "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                              "org.freedesktop.DBus.NameHasOwner", "string:org.a11y.atspi.Registry"],
                             env=self.env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=10)
        return "boolean true" in out.stdout

    def _start_keyring(self):
        """gnome-keyring's Secret Service, its login keyring (under the session's HOME) created and unlocked with
        keyring_password as tests/integration/test-secret.sh does, but in the foreground, so that it is ours to
        stop.  Ready when it owns org.freedesktop.secrets: asking the service before would make D-Bus activate a
        second, locked, keyring daemon."""
        proc = self._spawn("gnome-keyring", ["gnome-keyring-daemon", "--foreground", "--unlock",
                                             "--components=secrets"], stdin=subprocess.PIPE)
        proc.stdin.write(self.keyring_password.encode())
        proc.stdin.close()

        def up():
            if proc.poll() is not None:
                raise GuiTimeout(f"gnome-keyring-daemon exited with status {proc.returncode}: "
                                 f"{self._tail('gnome-keyring')}")
            return self._has_secrets()
        wait_for(up, "gnome-keyring to own org.freedesktop.secrets", 20, seen=lambda: self._tail("gnome-keyring"))

    def _start_notifications(self):
        """dunst, a real notification daemon, owning org.freedesktop.Notifications on the session bus: what the
        application notifies lands in its history (notification_history()).  Ready when dunstctl reaches it."""
        conf = os.path.join(self.dir, "dunstrc")
        with open(conf, "w") as f:
            f.write("[global]\n    history_length = 100\n    sticky_history = yes\n")
        proc = self._spawn("dunst", ["dunst", "-config", conf])

        def up():
            if proc.poll() is not None:
                raise GuiTimeout(f"dunst exited with status {proc.returncode}: {self._tail('dunst')}")
            return subprocess.run(["dunstctl", "is-paused"], env=self.env, capture_output=True,
                                  stdin=subprocess.DEVNULL, timeout=10).returncode == 0
        wait_for(up, "dunst to own org.freedesktop.Notifications", 20, seen=lambda: self._tail("dunst"))

    def notification_history(self):
        """The notifications dunst has shown and closed, newest first, as dicts with "summary", "body" and
        "appname".  Those still on screen are closed first, so that they are in the history."""
        subprocess.run(["dunstctl", "close-all"], env=self.env, capture_output=True, stdin=subprocess.DEVNULL,
                       timeout=10)
        out = subprocess.run(["dunstctl", "history"], env=self.env, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=10).stdout
        import json
        data = json.loads(out or "{}").get("data", [[]])
        return [{k: v.get("data") for k, v in n.items()} for n in (data[0] if data else [])]

    def _has_secrets(self):
        out = subprocess.run(["dbus-send", "--session", "--print-reply", "--dest=org.freedesktop.DBus",
                              "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner",
                              "string:org.freedesktop.secrets"], env=self.env, capture_output=True, text=True,
                             stdin=subprocess.DEVNULL, timeout=10)
        return "boolean true" in out.stdout

    # -- the application --------------------------------------------------------------------------------------

    def start_app(self, home=None, lang=None, env=None, args=(), timeout=30.0):
        """Runs $POSTERN_GTK (POSTERN_HOME=home when given, else as inherited; POSTERN_AGENT passes through),
        with LANG and LANGUAGE set to lang when given, extra env on top, and returns an App once the application
        named postern-gtk with its pid is in the accessibility tree and its window is showing."""
        exe = os.environ.get("POSTERN_GTK")
        if not exe:
            raise RuntimeError("set POSTERN_GTK to the postern-gtk binary")
        e = dict(self.env)
        if home is not None:
            e["POSTERN_HOME"] = home
        if lang is not None:
            e["LANG"] = lang
            e["LANGUAGE"] = lang.split(".")[0]
        e.update(env or {})
        self.homes.add(e.get("POSTERN_HOME") or None)
        n = sum(1 for name, _ in self.procs if name.startswith("postern-gtk"))
        log_path = os.path.join(self.dir, f"postern-gtk-{n}.log")
        log = open(log_path, "wb")
        proc = subprocess.Popen([exe, *args], env=e, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        self.procs.append((f"postern-gtk-{n}", proc))
        app = App(self, proc, log_path, e.get("POSTERN_HOME"), e)
        self.apps.add(app)
        self.all_apps.append(app)

        def found():
            if proc.poll() is not None:
                raise GuiTimeout(f"postern-gtk exited with status {proc.returncode} before its window showed: "
                                 f"{app.log()[-3000:]}")
            desktop = Atspi.get_desktop(0)
            for i in range(desktop.get_child_count()):
                a = desktop.get_child_at_index(i)
                if a is not None and a.get_name() == "postern-gtk" and a.get_process_id() == proc.pid:
                    return a
            return None

        app.root = wait_for(found, f"an accessible application named postern-gtk with pid {proc.pid}", timeout,
                            seen=lambda: "applications: " + ", ".join(
                                f"{a.get_name()!r} (pid {a.get_process_id()})"
                                for a in children(Atspi.get_desktop(0))) + "; log: " + app.log()[-2000:])
        app.window(timeout)
        return app

    # -- stopping ---------------------------------------------------------------------------------------------

    def stop_agents(self):
        """Stops the agent of every Postern home used in this session ($POSTERN agent stop)."""
        postern = os.environ.get("POSTERN")
        if not postern:
            return
        for h in self.homes:
            home = ["--home", h] if h else []  # None: the default home, in the session's XDG directories
            subprocess.run([postern, *home, "agent", "stop"], env=self.env, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)

    def stop(self):
        """Stops everything the session started, the apps (through their Close button) first, then the agents of
        their homes, then the session's daemons; removes the directory unless PSTGUI_KEEP=1.  Idempotent."""
        global _session
        if self.dir is None:
            return
        for app in list(self.apps):
            try:
                app.close(timeout=10)
            except Exception as e:  # noqa: BLE001
                _comment(f"closing postern-gtk: {e}")
        try:
            self.stop_agents()
        except Exception as e:  # noqa: BLE001
            _comment(f"stopping agents: {e}")
        for name, proc in reversed(self.procs):
            try:
                _stop_process(proc, name)
            except Exception as e:  # noqa: BLE001
                _comment(f"stopping {name}: {e}")
        if os.environ.get("PSTGUI_KEEP") == "1":
            print(f"# pstgui: session directory kept: {self.dir}", flush=True)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        self.dir = None
        _session = None


_session = None
_handlers_installed = False


def _at_exit():
    if _session is not None:
        _session.stop()


def _on_signal(signum, frame):
    # Turned into an exception, so that finally blocks and atexit run; a second signal is ignored meanwhile.
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, signal.SIG_IGN)
    print(f"# pstgui: got signal {signum}, stopping", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)


def _install_handlers():
    global _handlers_installed
    if _handlers_installed:
        return
    _handlers_installed = True
    atexit.register(_at_exit)
    for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(s, _on_signal)


# ---------------------------------------------------------------------------------------------------------------
# Scenarios


def run_scenarios(session, scenarios):
    """Runs each scenario function (taking the session) in turn.  An exception in one — a GuiTimeout, a failed
    assertion — is reported as a failed check named after the scenario, with a screenshot; every app still running
    is closed between scenarios so that each starts from a clean screen."""
    for fn in scenarios:
        name = fn.__name__
        doc = " ".join((fn.__doc__ or name).split())
        print(f"# scenario {name}: {doc}", flush=True)
        started = time.monotonic()
        try:
            fn(session)
        except Exception as e:  # noqa: BLE001 — reported, then the next scenario runs
            screenshot(f"{name}-failed")
            detail = f"{type(e).__name__}: {e}"
            if not isinstance(e, (GuiTimeout, AssertionError)):
                detail += "\n" + traceback.format_exc()
            not_ok(f"{name}: the scenario ran to its end", detail)
            # What the agents did meanwhile: a call that never came back, a refusal.
            for h in sorted(h for h in session.homes if h):
                log = os.path.join(h, "data", "posternd.log")
                if os.path.exists(log):
                    with open(log, errors="replace") as f:
                        tail = f.readlines()[-15:]
                    _comment(f"the last lines of {log}:\n" + "".join("  " + line for line in tail).rstrip())
            # And what the apps said (G_MESSAGES_DEBUG as start_app set it).
            for app in session.apps:
                tail = app.log().splitlines(keepends=True)[-30:]
                if tail:
                    _comment("the last lines of postern-gtk's log:\n"
                             + "".join("  " + line for line in tail).rstrip())
        finally:
            for app in list(session.apps):
                try:
                    app.close()
                except Exception as e:  # noqa: BLE001
                    _comment(f"closing postern-gtk after {name}: {e}")
            # Where the test's time goes (not checked: a test is never timed).
            _comment(f"scenario {name}: {time.monotonic() - started:.1f} s")
