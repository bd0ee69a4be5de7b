"""GUI scenarios: the real postern-gtk, driven through accessibility (see pstgui.py), against real agents.

Run by tests/integration/test-gui.sh, which makes the mail with the CLI and exports: POSTERN, POSTERN_GTK,
PSTGUI_AGENT (the posternd the app should start), PSTGUI_HOME_ALICE, PSTGUI_HOME_BOB, GNUPGHOME_ALICE,
GNUPGHOME_BOB, ALICE_ADDR, PSTGUI_SUBJECT, PSTGUI_BODY (the message alice sent bob, already fetched), and
SCREENSHOT_DIR.  When it starts, alice's agent does not run; bob's, which fetched the message (and so knows its
protected Subject), does.

A scenario is a function taking the session, listed in SCENARIOS: it starts what it needs (an agent with
agent_start, the app with session.start_app), checks with pstgui.check, and may leave the app running (it is
closed after each scenario) and agents running (stopped at the end).
"""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pstgui as g  # noqa: E402

POSTERN = os.environ["POSTERN"]
ALICE = {"home": os.environ["PSTGUI_HOME_ALICE"], "gnupg": os.environ["GNUPGHOME_ALICE"]}
BOB = {"home": os.environ["PSTGUI_HOME_BOB"], "gnupg": os.environ["GNUPGHOME_BOB"]}


def postern(user, *args):
    """Runs the CLI as user (their home and GnuPG home); returns the CompletedProcess."""
    env = dict(os.environ, GNUPGHOME=user["gnupg"])
    return subprocess.run([POSTERN, "--home", user["home"], *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def listed(user):
    """(from, subject) of each message the agent lists for user, as the CLI sees them."""
    r = postern(user, "--json", "list")
    if r.returncode != 0:
        return f"postern list: exit {r.returncode}: {r.stderr.strip()}"
    return [(m["from"], m["subject"]) for m in json.loads(r.stdout)["messages"]]


def agent_running(user):
    return postern(user, "agent", "status").returncode == 0


def agent_start(session, user):
    r = postern(user, "agent", "start")
    session.homes.add(user["home"])
    if r.returncode != 0:
        raise AssertionError(f"postern agent start: exit {r.returncode}: {r.stderr.strip()}")


def start_app(session, user, **kw):
    """postern-gtk as user: their home, their GnuPG home (for the agent it may start), PSTGUI_AGENT as the
    agent it starts."""
    env = {"GNUPGHOME": user["gnupg"], "POSTERN_AGENT": os.environ["PSTGUI_AGENT"]}
    env.update(kw.pop("env", {}))
    return session.start_app(home=user["home"], env=env, **kw)


# ---------------------------------------------------------------------------------------------------------------


def scenario_start_agent(session):
    """No agent running: the window says so and offers to start it; the button starts it and the bar goes away."""
    if agent_running(ALICE):
        raise AssertionError("alice's agent runs before the scenario; it should not")
    app = start_app(session, ALICE)
    win = app.window()
    g.ok(f"the window appears (named {g.name_of(win)!r})")
    bar = g.find(win, "info bar")
    label = g.find(bar, "label", text="not running")
    g.ok(f"the info bar says the agent is not running: {g.text_of(label)!r}")
    g.find(bar, "push button", "Start the agent")
    g.ok("the info bar has a button 'Start the agent'")
    g.screenshot("agent-not-running", win)

    g.click(bar, "Start the agent")
    g.wait_for(lambda: agent_running(ALICE), "'postern agent status' to say alice's agent runs", 30,
               seen=lambda: postern(ALICE, "agent", "status").stdout.strip() + "; app log: " + app.log()[-1500:])
    g.ok("clicking 'Start the agent' starts the agent (postern agent status)")
    g.wait_for(lambda: not g.is_showing(bar), "the info bar to be hidden once the agent runs", 30,
               seen=lambda: f"info bar states {sorted(g.states(bar))}; {g.describe(bar)}")
    g.ok("the info bar goes away")
    g.screenshot("agent-started", win)


def scenario_message_list(session):
    """With bob's agent running and alice's encrypted message fetched (and a newer one in the clear), the list shows
    it; selecting it shows its status."""
    agent_start(session, BOB)  # running since the fetch; started if it is not (the Subject is then unknown)
    app = start_app(session, BOB)
    win = app.window()
    table = g.find(win, "table")
    alice, subject = os.environ["ALICE_ADDR"], os.environ["PSTGUI_SUBJECT"]

    def row_index():
        for i, row in enumerate(g.table_rows(table)):
            if alice in row.get("From", "") and row.get("Subject") == subject:
                return i + 1  # true even for row 0
        return None
    index = g.wait_for(row_index, f"a row from {alice} with the subject {subject!r}", 20,
                       seen=lambda: f"{g.table_rows(table)!r}; the agent lists: {listed(BOB)!r}") - 1
    g.ok(f"the message list shows a row with {alice} and the subject")
    g.screenshot("message-list", win)

    labels_before = [g.text_of(n) for n in g.find_all(win, "label")]
    g.check("before the selection no label mentions OpenPGP", not any("OpenPGP" in t for t in labels_before),
            lambda: f"labels: {labels_before!r}")
    g.select_row(table, index)
    status = g.find(win, "label", text="OpenPGP")
    g.ok(f"selecting the row shows the status: {g.text_of(status).strip()!r}")
    g.find(win, "text", text=os.environ["PSTGUI_BODY"])
    g.ok("a text view shows the decrypted body")
    g.screenshot("message-selected", win)
    # The picture of data/org.postern.Postern.metainfo.xml (copied from here to data/screenshots/ by hand).
    g.screenshot("main-window", win, numbered=False)


SCENARIOS = [scenario_start_agent, scenario_message_list]


def main():
    g.add_counts(int(os.environ.get("PSTGUI_PASSED_BEFORE", "0")), int(os.environ.get("PSTGUI_FAILED_BEFORE", "0")))
    session = g.Session()
    try:
        session.start()
    except Exception as e:  # noqa: BLE001
        g.not_ok("the desktop session starts (Xvfb, D-Bus, AT-SPI)", f"{type(e).__name__}: {e}")
        return g.finish()
    g.ok("the desktop session starts (Xvfb, D-Bus, AT-SPI)")
    g.run_scenarios(session, SCENARIOS)
    session.stop_agents()
    g.check_logs(session)
    return g.finish()


if __name__ == "__main__":
    sys.exit(main())
