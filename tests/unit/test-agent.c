/* test-agent.c — the agent's parts, without a socket or a network: the
 * dispatch of methods, the admission of a client's descriptors, the outbox
 * state machine, the scheduler's due-times, reload, the Maildir that
 * delivery writes into, and the bridge's look-up of a peer's uid (on
 * loopback: no network beyond this host). */
#define _GNU_SOURCE 1   /* accept4 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "agent.h"
#include "bridge-peer.h"
#include "clientfd.h"
#include "events.h"
#include "maildir.h"
#include "mime/sevenbit.h"
#include "outbox-stream.h"
#include "methods.h"
#include "protect.h"
#include "scheduler.h"
#include "sender.h"
#include "subjects.h"
#include "rpc/frame.h"
#include "util/error.h"

typedef struct {
  char *home;
  PstAgent *agent;
} Fixture;

static const char config_text[] =
  "[general]\n"
  "[account work]\n"
  "address=me@example.org\n"
  "smtp=smtps://127.0.0.1:1\n"
  "pop3=pop3s://127.0.0.1:1\n"
  "user=me@example.org\n"
  "password_command=echo secret\n"
  "encrypt=never\n";

static void
write_config (PstAgent *agent, const char *text)
{
  g_autoptr (GError) error = NULL;

  assert_true (g_file_set_contents (agent->paths->config_file, text, -1, &error));
}

static int
setup (void **state)
{
  Fixture *f = g_new0 (Fixture, 1);
  g_autoptr (GError) error = NULL;

  f->home = g_dir_make_tmp ("pst-agent-XXXXXX", NULL);
  f->agent = pst_agent_new (f->home);
  assert_true (pst_paths_ensure (f->agent->paths, &error));
  write_config (f->agent, config_text);
  if (!pst_agent_open (f->agent, &error))
    fail_msg ("%s", error->message);
  f->agent->events = pst_events_new ();
  f->agent->subjects = pst_subjects_new ();
  f->agent->senders = pst_senders_new (f->agent);
  *state = f;
  return 0;
}

static void
remove_tree (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_file_test (child, G_FILE_TEST_IS_DIR) && !g_file_test (child, G_FILE_TEST_IS_SYMLINK))
        remove_tree (child);
      else
        g_unlink (child);
    }
  g_rmdir (path);
}

static int
teardown (void **state)
{
  Fixture *f = *state;

  g_clear_pointer (&f->agent->senders, pst_senders_free);
  g_clear_pointer (&f->agent->events, pst_events_free);
  g_clear_pointer (&f->agent->subjects, pst_subjects_free);
  pst_agent_free (f->agent);
  remove_tree (f->home);
  g_free (f->home);
  g_free (f);
  return 0;
}

/* ---- dispatch ---- */

/* Runs @method with @params_json (NULL: none); returns the response. */
static JsonObject *
call (PstAgent *agent, const char *method, const char *params_json)
{
  g_autoptr (GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (JsonNode) id = json_node_new (JSON_NODE_VALUE);
  g_autoptr (JsonNode) params = params_json ? json_from_string (params_json, NULL) : NULL;
  JsonNode *response;
  JsonObject *o;

  json_node_set_int (id, 7);
  response = pst_methods_dispatch (agent, NULL, method,
                                   params ? json_node_get_object (params) : NULL, id, fds);
  assert_non_null (response);
  o = json_object_ref (json_node_get_object (response));
  json_node_unref (response);
  assert_int_equal (json_object_get_int_member (o, "id"), 7);
  return o;
}

static gint64
error_code (JsonObject *response)
{
  assert_true (json_object_has_member (response, "error"));
  return json_object_get_int_member (json_object_get_object_member (response, "error"), "code");
}

static void
test_dispatch_unknown_method (void **state)
{
  Fixture *f = *state;
  g_autoptr (JsonObject) r = call (f->agent, "no.such.method", NULL);

  assert_int_equal (error_code (r), PST_RPC_METHOD_NOT_FOUND);
  assert_non_null (strstr (json_object_get_string_member (json_object_get_object_member (r, "error"),
                                                          "message"), "no.such.method"));
}

static void
test_dispatch_hello (void **state)
{
  Fixture *f = *state;
  g_autoptr (JsonObject) r = call (f->agent, "hello", NULL);
  JsonObject *result;

  assert_true (json_object_has_member (r, "result"));
  result = json_object_get_object_member (r, "result");
  assert_int_equal (json_object_get_int_member (result, "protocol"), PST_RPC_PROTOCOL);
  assert_int_equal (json_object_get_int_member (result, "pid"), getpid ());
  assert_int_equal (json_array_get_length (json_object_get_array_member (result,
                                                                         "config_warnings")), 0);
}

static void
test_dispatch_accounts (void **state)
{
  Fixture *f = *state;
  g_autoptr (JsonObject) list = call (f->agent, "account.list", NULL);
  g_autoptr (JsonObject) show = call (f->agent, "account.show", "{\"name\":\"work\"}");
  g_autoptr (JsonObject) missing = call (f->agent, "account.show", "{\"name\":\"play\"}");
  g_autoptr (JsonObject) bad = call (f->agent, "account.show", "{\"name\":5}");
  JsonArray *accounts;

  accounts = json_object_get_array_member (json_object_get_object_member (list, "result"),
                                           "accounts");
  assert_int_equal (json_array_get_length (accounts), 1);
  assert_string_equal (json_object_get_string_member (
                         json_object_get_object_member (show, "result"), "address"),
                       "me@example.org");
  /* An unknown account is the method's failure, not the caller's usage. */
  assert_int_equal (error_code (missing), PST_RPC_APP_ERROR_BASE + PST_ERROR_FAILED);
  /* A parameter of the wrong type is the caller's error. */
  assert_int_equal (error_code (bad), PST_RPC_INVALID_PARAMS);
}

/* ---- send's envelope (postern sendmail) ---- */

/* The envelope replaces the header's recipients: those in To or Cc stay
 * visible, the others (and only they) are Bcc; duplicates go; a header
 * Bcc that is not in the envelope gets nothing. */
static void
test_envelope_split (void **state)
{
  static const char text[] = "From: me@example.org\r\nTo: A <a@x.test>\r\nCc: c@x.test\r\n"
                             "Bcc: h@x.test\r\nSubject: s\r\n\r\nbody\r\n";
  static const char *const envelope[] = { "a@x.test", "b@x.test", "c@X.TEST", "a@x.test", NULL };
  static const char *const bad[] = { "a@x.test", "Name <b@x.test>", NULL };
  g_autoptr (GBytes) data = g_bytes_new_static (text, sizeof text - 1);
  g_autoptr (GError) error = NULL;
  g_autoptr (PstPlainMessage) plain = pst_plain_message_parse (data, &error);

  (void) state;
  assert_non_null (plain);
  assert_true (pst_plain_message_set_envelope (plain, envelope, &error));
  assert_int_equal (g_strv_length (plain->recipients), 3);
  assert_string_equal (plain->recipients[0], "a@x.test");
  assert_string_equal (plain->recipients[1], "b@x.test");
  assert_string_equal (plain->recipients[2], "c@X.TEST");
  assert_int_equal (g_strv_length (plain->bcc), 1);
  assert_string_equal (plain->bcc[0], "b@x.test");
  assert_false (pst_plain_message_set_envelope (plain, bad, &error));
  assert_true (g_error_matches (error, PST_ERROR, PST_ERROR_USAGE));
}

/* send's envelope parameter is checked before anything is read. */
static void
test_envelope_param (void **state)
{
  Fixture *f = *state;
  g_autoptr (JsonObject) empty = call (f->agent, "send", "{\"fd\":0,\"envelope\":[]}");
  g_autoptr (JsonObject) string = call (f->agent, "send", "{\"fd\":0,\"envelope\":\"a@x.test\"}");
  g_autoptr (JsonObject) number = call (f->agent, "send", "{\"fd\":0,\"envelope\":[5]}");

  assert_int_equal (error_code (empty), PST_RPC_INVALID_PARAMS);
  assert_int_equal (error_code (string), PST_RPC_INVALID_PARAMS);
  assert_int_equal (error_code (number), PST_RPC_INVALID_PARAMS);
}

/* account.update and account.show go by the one table of account fields
 * (config.h): every field can be shown, the updatable ones changed, a
 * number out of range is refused with the table's words. */
static void
test_dispatch_account_fields (void **state)
{
  Fixture *f = *state;
  g_autoptr (JsonObject) up = call (f->agent, "account.update",
                                    "{\"name\":\"work\",\"store_decrypted_subject\":true,"
                                    "\"timeout\":0,\"keep_days\":5}");
  g_autoptr (JsonObject) range = call (f->agent, "account.update",
                                       "{\"name\":\"work\",\"timeout\":4000}");
  g_autoptr (JsonObject) fixed = call (f->agent, "account.update",
                                       "{\"name\":\"work\",\"address\":\"x@example.org\"}");
  g_autoptr (JsonObject) show = call (f->agent, "account.show", "{\"name\":\"work\"}");
  g_autoptr (PstAccount) a = pst_agent_get_account (f->agent, "work", NULL);
  JsonObject *r = json_object_get_object_member (show, "result");
  gsize n;
  const PstAccountField *fields = pst_account_fields (&n);

  assert_true (json_object_has_member (up, "result"));
  assert_true (a->store_decrypted_subject);
  assert_true (a->keep_on_server);
  assert_int_equal (a->keep_days, 5);
  assert_int_equal (error_code (range), PST_RPC_INVALID_PARAMS);
  assert_string_equal (json_object_get_string_member (json_object_get_object_member (range,
                                                                                     "error"),
                                                      "message"),
                       "timeout must be between 1 and 3600 seconds");
  assert_int_equal (error_code (fixed), PST_RPC_INVALID_PARAMS);
  assert_string_equal (a->address, "me@example.org");
  /* Every field of the table is shown; a default as its value. */
  for (gsize i = 0; i < n; i++)
    assert_true (json_object_has_member (r, fields[i].key));
  assert_int_equal (json_object_get_int_member (r, "timeout"), 60);
  assert_true (json_object_get_boolean_member (r, "store_decrypted_subject"));
  assert_int_equal (json_object_get_int_member (r, "keep_days"), 5);
}

/* ---- admission of a client's descriptors ---- */

static void
test_fds_admit (void **state)
{
  g_autoptr (GArray) fds = g_array_new (FALSE, FALSE, sizeof (int));
  g_autoptr (GError) error = NULL;
  int p[2], q[2];
  char buf[4];

  (void) state;
  pst_client_fd_init (1, NULL);
  /* Both ends of one pipe: refused, naming the two. */
  assert_int_equal (pipe (p), 0);
  g_array_append_val (fds, p[0]);
  g_array_append_val (fds, p[1]);
  assert_false (pst_client_fds_admit (fds, &error));
  assert_int_equal (error->code, PST_ERROR_USAGE);
  assert_non_null (strstr (error->message, "pipe"));
  g_clear_error (&error);
  close (p[0]);
  close (p[1]);

  /* Ends of two pipes: admitted, as descriptors of the agent's own that
   * read what the client wrote. */
  g_array_set_size (fds, 0);
  assert_int_equal (pipe (p), 0);
  assert_int_equal (pipe (q), 0);
  g_array_append_val (fds, p[0]);
  g_array_append_val (fds, q[1]);
  assert_true (pst_client_fds_admit (fds, &error));
  assert_int_equal (write (p[1], "abc", 3), 3);
  close (p[1]);
  assert_int_equal (pst_client_fd_read (g_array_index (fds, int, 0), buf, sizeof buf, &error), 3);
  assert_memory_equal (buf, "abc", 3);
  assert_int_equal (pst_client_fd_read (g_array_index (fds, int, 0), buf, sizeof buf, &error), 0);

  /* A read that makes no progress ends at the stall timeout (1 s here). */
  {
    g_autoptr (GError) stall = NULL;
    int r[2];
    g_autoptr (GArray) one = g_array_new (FALSE, FALSE, sizeof (int));

    assert_int_equal (pipe (r), 0);
    g_array_append_val (one, r[0]);
    assert_true (pst_client_fds_admit (one, &stall));
    assert_int_equal (pst_client_fd_read (g_array_index (one, int, 0), buf, sizeof buf, &stall), -1);
    assert_non_null (stall);
    close (g_array_index (one, int, 0));
    close (r[1]);
  }
  close (g_array_index (fds, int, 0));
  close (g_array_index (fds, int, 1));
  close (q[0]);
}

/* A stop ends a wait on a client's descriptor at once. */
static void
test_fds_cancelled_by_stop (void **state)
{
  g_autoptr (GCancellable) stop = g_cancellable_new ();
  g_autoptr (GError) error = NULL;
  int r[2];
  char buf[4];
  gint64 t0;

  (void) state;
  pst_client_fd_init (60, stop);
  assert_int_equal (pipe (r), 0);
  g_cancellable_cancel (stop);
  t0 = g_get_monotonic_time ();
  assert_int_equal (pst_client_fd_read (r[0], buf, sizeof buf, &error), -1);
  assert_int_equal (error->code, PST_ERROR_AGENT);
  assert_true (g_get_monotonic_time () - t0 < 30 * G_USEC_PER_SEC);
  pst_client_fd_init (1, NULL);
  close (r[0]);
  close (r[1]);
}

/* ---- the outbox state machine ---- */

static void
test_outbox_replies (void **state)
{
  (void) state;
  assert_int_equal (pst_sender_state_after_reply (250), PST_OUTBOX_SENT);
  assert_int_equal (pst_sender_state_after_reply (251), PST_OUTBOX_SENT);
  assert_int_equal (pst_sender_state_after_reply (421), PST_OUTBOX_QUEUED);
  assert_int_equal (pst_sender_state_after_reply (452), PST_OUTBOX_QUEUED);
  assert_int_equal (pst_sender_state_after_reply (550), PST_OUTBOX_FAILED);
  assert_int_equal (pst_sender_state_after_reply (554), PST_OUTBOX_FAILED);
  /* Nonsense from a server is no success. */
  assert_int_equal (pst_sender_state_after_reply (0), PST_OUTBOX_FAILED);
  assert_int_equal (pst_sender_state_after_reply (354), PST_OUTBOX_FAILED);
}

static void
test_outbox_plan (void **state)
{
  PstOutboxEntry e = { .id = 1, .created_at = 1000000, .next_try = 0 };
  gint64 now = 1000000 + 60;

  (void) state;
  assert_int_equal (pst_sender_plan (&e, now, FALSE), PST_SENDER_SEND);
  /* Deferred by the server (a 4xx to it) and not due: it waits... */
  e.last_reply = (char *) "451 4.7.1 try later";
  e.next_try = now + 100;
  assert_int_equal (pst_sender_plan (&e, now, FALSE), PST_SENDER_WAIT);
  /* ...unless the user asks. */
  assert_int_equal (pst_sender_plan (&e, now, TRUE), PST_SENDER_SEND);
  /* A session that failed before reaching it does not hold it back. */
  e.last_reply = (char *) "connection refused";
  assert_int_equal (pst_sender_plan (&e, now, FALSE), PST_SENDER_SEND);
  /* Five days after it was queued, it fails for good, asked or not. */
  assert_int_equal (pst_sender_plan (&e, e.created_at + PST_SENDER_GIVE_UP_S + 1, TRUE),
                    PST_SENDER_GIVE_UP);
  assert_int_equal (pst_sender_plan (&e, e.created_at + PST_SENDER_GIVE_UP_S, FALSE),
                    PST_SENDER_SEND);
}

static void
test_outbox_backoff (void **state)
{
  (void) state;
  for (int i = 0; i < 50; i++)
    {
      gint64 first = pst_sender_backoff (1), third = pst_sender_backoff (3);
      gint64 late = pst_sender_backoff (30);

      assert_in_range (first, 48, 72);          /* 60 s ±20% */
      assert_in_range (third, 192, 288);        /* 240 s ±20% */
      assert_in_range (late, 4 * 3600 * 8 / 10, 4 * 3600 * 12 / 10);   /* the cap */
    }
}

/* Queues a message for @account and returns its id. */
static gint64
queue (PstAgent *agent, const char *account)
{
  const char *rcpt[] = { "you@example.net", NULL };
  g_autoptr (GError) error = NULL;
  PstStoreWriter *w = pst_store_outbox_begin (agent->store, account, "me@example.org", rcpt,
                                              &error);
  gint64 id = 0;

  assert_non_null (w);
  assert_true (pst_store_writer_write (w, (const guint8 *) "Subject: x\r\n\r\nx\r\n", 17, &error));
  assert_true (pst_store_writer_commit (w, &id, &error));
  pst_store_writer_free (w);
  return id;
}

/* A run of the sender that has nothing due opens no session and changes
 * nothing; the server's deferral is kept. */
static void
test_outbox_deferred_waits (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstOutboxEntry) e = NULL;
  gint64 id = queue (f->agent, "work");

  assert_true (pst_store_outbox_set_state (f->agent->store, id, PST_OUTBOX_QUEUED,
                                           "451 4.3.0 busy", &error));
  assert_true (pst_store_outbox_set_next_try (f->agent->store, id,
                                              g_get_real_time () / G_USEC_PER_SEC + 3600, &error));
  /* The account's servers are 127.0.0.1:1: a session would fail. */
  if (!pst_senders_run (f->agent->senders, "work", FALSE, &error))
    fail_msg ("a run with nothing due opened a session: %s", error->message);
  e = pst_store_outbox_get (f->agent->store, id, &error);
  assert_int_equal (e->state, PST_OUTBOX_QUEUED);
  assert_string_equal (e->last_reply, "451 4.3.0 busy");
  assert_int_equal (e->attempts, 0);
}

/* A session that cannot be opened leaves the entry queued, with the next
 * try pushed back by the backoff. */
static void
test_outbox_session_failure (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstOutboxEntry) e = NULL;
  gint64 id = queue (f->agent, "work"), now = g_get_real_time () / G_USEC_PER_SEC;

  assert_false (pst_senders_run (f->agent->senders, "work", TRUE, &error));
  assert_non_null (strstr (error->message, "sending via"));
  e = pst_store_outbox_get (f->agent->store, id, NULL);
  assert_int_equal (e->state, PST_OUTBOX_QUEUED);
  assert_in_range (e->next_try, now + 48, now + 72 + 5);
}

/* outbox.list with ids: those entries only, in that order, the other
 * filters still applied; an unknown id or a bad list is an error. */
static void
test_outbox_list_ids (void **state)
{
  Fixture *f = *state;
  gint64 a = queue (f->agent, "work"), b = queue (f->agent, "work");
  g_autofree char *both_p = g_strdup_printf ("{\"ids\":[%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "]}",
                                             b, a);
  g_autofree char *sent_p = g_strdup_printf ("{\"ids\":[%" G_GINT64_FORMAT "],\"state\":\"sent\"}", a);
  g_autofree char *unknown_p = g_strdup_printf ("{\"ids\":[%" G_GINT64_FORMAT "]}", b + 100);
  g_autoptr (JsonObject) both = call (f->agent, "outbox.list", both_p);
  g_autoptr (JsonObject) sent = call (f->agent, "outbox.list", sent_p);
  g_autoptr (JsonObject) unknown = call (f->agent, "outbox.list", unknown_p);
  g_autoptr (JsonObject) bad = call (f->agent, "outbox.list", "{\"ids\":[\"1\"]}");
  JsonArray *list = json_object_get_array_member (json_object_get_object_member (both, "result"),
                                                  "outbox");

  assert_int_equal (json_array_get_length (list), 2);
  assert_int_equal (json_object_get_int_member (json_array_get_object_element (list, 0), "id"), b);
  assert_int_equal (json_object_get_int_member (json_array_get_object_element (list, 1), "id"), a);
  assert_int_equal (json_array_get_length (json_object_get_array_member (
                      json_object_get_object_member (sent, "result"), "outbox")), 0);
  assert_int_equal (error_code (unknown), PST_RPC_APP_ERROR_BASE + PST_ERROR_FAILED);
  assert_int_equal (error_code (bad), PST_RPC_INVALID_PARAMS);
}

/* ---- the scheduler's due-times ---- */

static void
test_scheduler_outbox_due (void **state)
{
  PstOutboxEntry a1 = { .id = 1, .account = (char *) "a", .next_try = 100 };
  PstOutboxEntry a2 = { .id = 2, .account = (char *) "a", .next_try = 90 };
  PstOutboxEntry b1 = { .id = 3, .account = (char *) "b", .next_try = 130 };
  PstOutboxEntry c1 = { .id = 4, .account = (char *) "c", .next_try = 1000 };
  g_autoptr (GPtrArray) queued = g_ptr_array_new ();
  g_autoptr (GPtrArray) due = g_ptr_array_new ();

  (void) state;
  g_ptr_array_add (queued, &a1);
  g_ptr_array_add (queued, &a2);
  g_ptr_array_add (queued, &b1);
  g_ptr_array_add (queued, &c1);
  /* At 100: account a is due once (two entries), b in 30 s. */
  assert_int_equal (pst_scheduler_outbox_due (queued, 100, 300, due), 30);
  assert_int_equal (due->len, 1);
  assert_string_equal (due->pdata[0], "a");
  /* Nothing queued: the idle look. */
  g_ptr_array_set_size (due, 0);
  g_ptr_array_set_size (queued, 0);
  assert_int_equal (pst_scheduler_outbox_due (queued, 100, 300, due), 300);
  assert_int_equal (due->len, 0);
  /* Far ahead: never more than the idle look, never less than a second. */
  g_ptr_array_add (queued, &c1);
  assert_int_equal (pst_scheduler_outbox_due (queued, 100, 300, due), 300);
  c1.next_try = 100;
  g_ptr_array_add (queued, &b1);
  b1.next_try = 100;
  assert_int_equal (pst_scheduler_outbox_due (queued, 99, 300, due), 1);
}

static void
test_scheduler_fetch_delay (void **state)
{
  (void) state;
  for (int i = 0; i < 50; i++)
    {
      assert_in_range (pst_scheduler_fetch_delay (300, 0), 270, 330);
      assert_in_range (pst_scheduler_fetch_delay (300, 1), 540, 660);
      assert_in_range (pst_scheduler_fetch_delay (300, 2), 1080, 1320);
      /* Backing off never waits more than an hour over the interval. */
      assert_in_range (pst_scheduler_fetch_delay (300, 40), 3510, 4290);
    }
}

/* ---- reload ---- */

static void
test_reload (void **state)
{
  Fixture *f = *state;
  g_autoptr (GError) error = NULL;
  g_autoptr (PstAccount) before = pst_agent_get_account (f->agent, "work", NULL);
  g_autoptr (PstAccount) added = NULL;
  g_autoptr (PstAccount) kept = NULL;
  g_autoptr (PstAccount) gone = NULL;
  guint64 changes = pst_agent_changes (f->agent);
  g_autofree char *text = g_strconcat (config_text, "[account play]\naddress=me@example.com\n"
                                       "smtp=smtps://127.0.0.1:1\npop3=pop3s://127.0.0.1:1\n"
                                       "user=me\npassword_command=echo x\n", NULL);

  assert_non_null (before);
  assert_null (pst_agent_get_scanner (f->agent, NULL));
  /* A new account and a scanner, read again. */
  {
    g_autofree char *again = g_strdup_printf ("[general]\nscan=command:/bin/true\n"
                                              "on_scan_error=deliver\n%s",
                                              text + strlen ("[general]\n"));
    write_config (f->agent, again);
  }
  if (!pst_agent_reload (f->agent, &error))
    fail_msg ("%s", error->message);
  assert_true (pst_agent_changes (f->agent) > changes);
  added = pst_agent_get_account (f->agent, "play", &error);
  assert_non_null (added);
  assert_string_equal (added->address, "me@example.com");
  {
    gboolean delivers = FALSE;
    assert_non_null (pst_agent_get_scanner (f->agent, &delivers));
    assert_true (delivers);
  }
  /* A file with errors changes nothing, and the error names the file. */
  changes = pst_agent_changes (f->agent);
  write_config (f->agent, "[account broken\naddress=\n");
  assert_false (pst_agent_reload (f->agent, &error));
  assert_non_null (strstr (error->message, f->agent->paths->config_file));
  g_clear_error (&error);
  kept = pst_agent_get_account (f->agent, "play", &error);
  assert_non_null (kept);
  assert_int_equal (pst_agent_changes (f->agent), changes);
  /* A scanner that cannot be made is such an error too. */
  write_config (f->agent, "[general]\nscan=nonsense:thing\n");
  assert_false (pst_agent_reload (f->agent, &error));
  g_clear_error (&error);
  assert_non_null (pst_agent_get_scanner (f->agent, NULL));
  /* Back to the first file: "play" is gone, the scanner too. */
  write_config (f->agent, config_text);
  assert_true (pst_agent_reload (f->agent, &error));
  gone = pst_agent_get_account (f->agent, "play", &error);
  assert_null (gone);
  assert_null (pst_agent_get_scanner (f->agent, NULL));
}

/* The "something changed" condition: a waiter sees a change made after it
 * counted, and a stop ends every wait. */
static gpointer
change_later (gpointer data)
{
  g_usleep (50 * 1000);
  pst_agent_changed (data);
  return NULL;
}

static void
test_changed_and_stop (void **state)
{
  Fixture *f = *state;
  guint64 seen = pst_agent_changes (f->agent);
  GThread *t = g_thread_new ("changer", change_later, f->agent);
  gint64 t0 = g_get_monotonic_time ();

  pst_agent_wait_changed (f->agent, seen, t0 + 60 * G_USEC_PER_SEC);
  assert_true (pst_agent_changes (f->agent) > seen);
  assert_true (g_get_monotonic_time () - t0 < 30 * G_USEC_PER_SEC);
  g_thread_join (t);
  /* A change made before the wait is not waited for. */
  seen = pst_agent_changes (f->agent);
  pst_agent_changed (f->agent);
  t0 = g_get_monotonic_time ();
  pst_agent_wait_changed (f->agent, seen, t0 + 60 * G_USEC_PER_SEC);
  assert_true (g_get_monotonic_time () - t0 < 30 * G_USEC_PER_SEC);
  /* After the stop, no wait. */
  assert_false (pst_agent_is_stopping (f->agent));
  pst_agent_request_stop (f->agent);
  assert_true (pst_agent_is_stopping (f->agent));
  t0 = g_get_monotonic_time ();
  pst_agent_wait_changed (f->agent, pst_agent_changes (f->agent), t0 + 60 * G_USEC_PER_SEC);
  assert_true (g_get_monotonic_time () - t0 < 30 * G_USEC_PER_SEC);
}

#define TOKEN "0123456789abcdef"

static char *
slurp (const char *path)
{
  char *text = NULL;

  return g_file_get_contents (path, &text, NULL, NULL) ? text : NULL;
}

/* The outbox stream records the 8-bit facts pst_mime_has_8bit finds in
 * the whole message, whatever pieces the bytes come in: the empty line
 * after the header split between writes, the header larger than a write. */
static void
test_outbox_stream_8bit (void **state)
{
  static const char *const messages[] = {
    "From: a@x.test\r\nSubject: plain\r\n\r\nall ASCII\r\n",
    "From: a@x.test\r\nSubject: plain\r\n\r\nGr\xc3\xbc\xc3\x9f\xc3\xa9\r\n",
    "From: a@x.test\r\nSubject: Gr\xc3\xbc\xc3\x9f" "e\r\n\r\nASCII body\r\n",
    "From: a@x.test\nSubject: plain\n\nbody\n\xe2\x82\xac\n",
    "From: a@x.test\r\nSubject: plain\r\n\r\n\r\n\r\nSubject: \xc3\xbc in the body\r\n",
  };
  static const gsize pieces[] = { 1, 2, 3, 7, 31, 4096 };
  g_autofree char *dir = g_dir_make_tmp ("test-outbox-stream-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "store.db", NULL);
  g_autoptr (PstStore) store = pst_store_open (path, NULL);
  const char *const rcpt[] = { "b@x.test", NULL };

  (void) state;
  assert_non_null (store);
  for (guint m = 0; m < G_N_ELEMENTS (messages); m++)
    for (guint k = 0; k < G_N_ELEMENTS (pieces); k++)
      {
        g_autoptr (GBytes) whole = g_bytes_new_static (messages[m], strlen (messages[m]));
        gboolean header = FALSE, any = pst_mime_has_8bit (whole, &header);
        g_autoptr (PstStoreWriter) w = pst_store_outbox_begin (store, "a", "a@x.test", rcpt, NULL);
        g_autoptr (GOutputStream) out = NULL;
        g_autoptr (PstOutboxEntry) e = NULL;
        gsize len = strlen (messages[m]);
        gint64 id = 0;

        assert_non_null (w);
        out = pst_outbox_stream_new (w);
        for (gsize off = 0; off < len; off += pieces[k])
          assert_true (g_output_stream_write_all (out, messages[m] + off, MIN (pieces[k], len - off),
                                                  NULL, NULL, NULL));
        assert_true (pst_outbox_stream_finish (out, NULL));
        assert_true (pst_store_writer_commit (w, &id, NULL));
        e = pst_store_outbox_get (store, id, NULL);
        assert_non_null (e);
        assert_int_equal (e->eight_bit, any);
        assert_int_equal (e->utf8_headers, header);
        assert_int_equal (e->size, (gint64) len);
      }
  pst_store_free (g_steal_pointer (&store));
  {
    g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
    const char *name;

    while (d != NULL && (name = g_dir_read_name (d)) != NULL)
      {
        g_autofree char *f = g_build_filename (dir, name, NULL);
        g_unlink (f);
      }
  }
  g_rmdir (dir);
}

/* The Maildir and its folders are made private, and refused when another
 * may write to one of them. */
static void
test_maildir_private (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-maildir-XXXXXX", NULL);
  g_autofree char *md = g_build_filename (dir, "mail", NULL);
  static const char *const subs[] = { "", "tmp", "new", "cur" };
  PstMaildir m = { 0 };
  g_autoptr (GError) error = NULL;

  (void) state;
  assert_true (pst_maildir_open (&m, md, TOKEN, &error));
  pst_maildir_clear (&m);
  for (guint i = 0; i < G_N_ELEMENTS (subs); i++)
    {
      g_autofree char *sub = g_build_filename (md, subs[i], NULL);
      g_autofree char *want = g_strdup_printf ("the Maildir folder %s is writable by group",
                                               *subs[i] ? sub : md);
      struct stat st;

      assert_int_equal (stat (sub, &st), 0);
      assert_int_equal (st.st_mode & 0777, 0700);
      assert_int_equal (chmod (sub, i % 2 ? 0770 : 0702), 0);
      assert_false (pst_maildir_open (&m, md, TOKEN, &error));
      pst_maildir_clear (&m);
      if (strstr (error->message, want) == NULL)
        fail_msg ("%s", error->message);
      g_clear_error (&error);
      assert_int_equal (chmod (sub, 0700), 0);
    }
  assert_true (pst_maildir_open (&m, md, TOKEN, &error));
  pst_maildir_clear (&m);
  remove_tree (dir);
}

/* Every tmp/ file of this store is removed, whatever became of its
 * message; others' files are left alone. */
static void
test_maildir_tmp_leftovers (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-maildir-XXXXXX", NULL);
  g_autofree char *ours = g_build_filename (dir, "tmp", "1700000000.M7R" TOKEN ".host", NULL);
  g_autofree char *other = g_build_filename (dir, "tmp", "1700000000.M7Rffffffffffffffff.host", NULL);
  g_autofree char *foreign = g_build_filename (dir, "tmp", "1700000000.P123.host", NULL);
  PstMaildir m = { 0 };
  g_autoptr (GError) error = NULL;

  (void) state;
  assert_true (pst_maildir_open (&m, dir, TOKEN, &error));
  pst_maildir_clear (&m);
  assert_true (g_file_set_contents (ours, "plaintext\n", -1, NULL));
  assert_true (g_file_set_contents (other, "another store's\n", -1, NULL));
  assert_true (g_file_set_contents (foreign, "a reader's\n", -1, NULL));
  assert_true (pst_maildir_open (&m, dir, TOKEN, &error));
  assert_false (g_file_test (ours, G_FILE_TEST_EXISTS));
  assert_true (g_file_test (other, G_FILE_TEST_EXISTS));
  assert_true (g_file_test (foreign, G_FILE_TEST_EXISTS));
  pst_maildir_clear (&m);
  remove_tree (dir);
}

/* A tmp/NAME or new/NAME that is there before the message is written
 * (someone else's) is neither written into nor taken for the message. */
static void
test_maildir_existing_names (void **state)
{
  g_autofree char *dir = g_dir_make_tmp ("pst-maildir-XXXXXX", NULL);
  g_autoptr (GBytes) msg = g_bytes_new_static ("Subject: x\n\nsecret\n", 19);
  PstMaildir m = { 0 };
  g_autoptr (GError) error = NULL;
  g_autofree char *name = NULL, *tmp = NULL, *dest = NULL, *text = NULL;

  (void) state;
  assert_true (pst_maildir_open (&m, dir, TOKEN, &error));
  assert_false (pst_maildir_has (&m, 1));
  assert_true (pst_maildir_deliver (&m, 1, 1700000000, msg, &error));
  name = g_strdup_printf ("1700000001.M2R" TOKEN ".%s", m.host);
  tmp = g_build_filename (dir, "tmp", name, NULL);
  dest = g_build_filename (dir, "new", name, NULL);

  /* tmp/NAME made after the Maildir was opened. */
  assert_true (g_file_set_contents (tmp, "theirs\n", -1, NULL));
  assert_false (pst_maildir_deliver (&m, 2, 1700000001, msg, &error));
  assert_non_null (strstr (error->message, "exists"));
  g_clear_error (&error);
  assert_string_equal ((text = slurp (tmp)), "theirs\n");
  assert_false (g_file_test (dest, G_FILE_TEST_EXISTS));
  g_unlink (tmp);

  /* new/NAME that is not the file written. */
  assert_true (g_file_set_contents (dest, "not it\n", -1, NULL));
  assert_false (pst_maildir_deliver (&m, 2, 1700000001, msg, &error));
  if (strstr (error->message, "is not the message Postern wrote") == NULL)
    fail_msg ("%s", error->message);
  g_clear_error (&error);
  g_free (text);
  assert_string_equal ((text = slurp (dest)), "not it\n");
  assert_false (g_file_test (tmp, G_FILE_TEST_EXISTS));
  g_unlink (dest);

  assert_true (pst_maildir_deliver (&m, 2, 1700000001, msg, &error));
  g_free (text);
  assert_string_equal ((text = slurp (dest)), "Subject: x\n\nsecret\n");
  pst_maildir_clear (&m);
  assert_true (pst_maildir_open (&m, dir, TOKEN, &error));
  assert_true (pst_maildir_has (&m, 1) && pst_maildir_has (&m, 2) && !pst_maildir_has (&m, 3));
  pst_maildir_clear (&m);
  remove_tree (dir);
}

/* A listener on loopback of @family; its address in @ss. */
static int
loopback_listener (int family, struct sockaddr_storage *ss, socklen_t *len)
{
  int fd = socket (family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  memset (ss, 0, sizeof *ss);
  if (family == AF_INET)
    {
      struct sockaddr_in *in = (struct sockaddr_in *) ss;

      in->sin_family = AF_INET;
      in->sin_addr.s_addr = htonl (INADDR_LOOPBACK);
      *len = sizeof *in;
    }
  else
    {
      struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) ss;

      in6->sin6_family = AF_INET6;
      in6->sin6_addr = in6addr_loopback;
      *len = sizeof *in6;
    }
  assert_true (fd >= 0);
  assert_int_equal (bind (fd, (struct sockaddr *) ss, *len), 0);
  assert_int_equal (listen (fd, 4), 0);
  assert_int_equal (getsockname (fd, (struct sockaddr *) ss, len), 0);
  return fd;
}

/* Connects a client of @client_family to listener @lfd (an IPv6 client to
 * an IPv4 listener: by ::ffff:127.0.0.1); the accepted end in @server. */
static int
connect_pair (int lfd, const struct sockaddr_storage *ss, socklen_t len, int client_family,
              int *server)
{
  int c = socket (client_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

  assert_true (c >= 0);
  if (client_family == AF_INET6 && ss->ss_family == AF_INET)
    {
      struct sockaddr_in6 mapped = { .sin6_family = AF_INET6 };

      mapped.sin6_port = ((const struct sockaddr_in *) ss)->sin_port;
      assert_int_equal (inet_pton (AF_INET6, "::ffff:127.0.0.1", &mapped.sin6_addr), 1);
      assert_int_equal (connect (c, (struct sockaddr *) &mapped, sizeof mapped), 0);
    }
  else
    assert_int_equal (connect (c, (const struct sockaddr *) ss, len), 0);
  *server = accept4 (lfd, NULL, NULL, SOCK_CLOEXEC);
  assert_true (*server >= 0);
  return c;
}

static void
test_bridge_peer_uid (void **state)
{
  static const int families[][2] = {
    { AF_INET, AF_INET }, { AF_INET6, AF_INET6 }, { AF_INET, AF_INET6 },
  };

  (void) state;
  for (guint i = 0; i < G_N_ELEMENTS (families); i++)
    {
      struct sockaddr_storage ss;
      socklen_t len;
      int lfd = loopback_listener (families[i][0], &ss, &len), server = -1;
      int c = connect_pair (lfd, &ss, len, families[i][1], &server);
      uid_t uid = (uid_t) -1;
      g_autoptr (GError) error = NULL;

      /* The owner is found, also an IPv6 client on an IPv4 listener. */
      assert_true (pst_bridge_peer_uid (server, &uid, &error));
      assert_null (error);
      assert_int_equal (uid, getuid ());
      /* A peer that closed is nobody's: the kernel says uid 0 for its
       * orphaned socket, which must not pass for root's. */
      close (c);
      g_usleep (50 * 1000);
      uid = 12345;
      assert_false (pst_bridge_peer_uid (server, &uid, &error));
      assert_non_null (error);
      assert_int_equal (uid, 12345);
      close (server);
      close (lfd);
    }
}

/* The unprotected copy without Bcc: nothing of the Bcc field goes out, nor
 * an mbox "From " line the message began with (git format-patch writes
 * one), and the rest is as it was. */
static void
test_without_bcc (void **state)
{
  static const char *const inputs[] = {
    "From: a@x\r\nTo: b@x\r\nBcc: d@x\r\n\r\nbody\r\n",
    "From 1234 Mon Sep 17 00:00:00 2001\nFrom: a@x\nTo: b@x\nSubject: mbox\nBcc: d@x\n\nbody\n",
    "From 1234 Mon Sep 17 00:00:00 2001\r\nFrom: a@x\r\nBcc: d@x,\r\n e@x\r\nTo: b@x\r\n\r\nbody\r\n",
  };
  static const char *const outputs[] = {
    "From: a@x\r\nTo: b@x\r\n\r\nbody\r\n",
    "From: a@x\nTo: b@x\nSubject: mbox\n\nbody\n",
    "From: a@x\r\nTo: b@x\r\n\r\nbody\r\n",
  };

  (void) state;
  for (guint i = 0; i < G_N_ELEMENTS (inputs); i++)
    {
      g_autoptr (GBytes) in = g_bytes_new_static (inputs[i], strlen (inputs[i]));
      g_autoptr (GBytes) out = pst_protect_without_bcc (in);
      gsize len;
      const char *data = g_bytes_get_data (out, &len);
      g_autofree char *text = g_strndup (data, len);

      assert_string_equal (text, outputs[i]);
    }
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test_setup_teardown (test_dispatch_unknown_method, setup, teardown),
    cmocka_unit_test_setup_teardown (test_dispatch_hello, setup, teardown),
    cmocka_unit_test_setup_teardown (test_dispatch_accounts, setup, teardown),
    cmocka_unit_test_setup_teardown (test_dispatch_account_fields, setup, teardown),
    cmocka_unit_test (test_envelope_split),
    cmocka_unit_test_setup_teardown (test_envelope_param, setup, teardown),
    cmocka_unit_test (test_fds_admit),
    cmocka_unit_test (test_fds_cancelled_by_stop),
    cmocka_unit_test (test_outbox_replies),
    cmocka_unit_test (test_outbox_plan),
    cmocka_unit_test (test_outbox_backoff),
    cmocka_unit_test_setup_teardown (test_outbox_deferred_waits, setup, teardown),
    cmocka_unit_test_setup_teardown (test_outbox_session_failure, setup, teardown),
    cmocka_unit_test_setup_teardown (test_outbox_list_ids, setup, teardown),
    cmocka_unit_test (test_scheduler_outbox_due),
    cmocka_unit_test (test_scheduler_fetch_delay),
    cmocka_unit_test_setup_teardown (test_reload, setup, teardown),
    cmocka_unit_test_setup_teardown (test_changed_and_stop, setup, teardown),
    cmocka_unit_test (test_outbox_stream_8bit),
    cmocka_unit_test (test_maildir_private),
    cmocka_unit_test (test_maildir_tmp_leftovers),
    cmocka_unit_test (test_maildir_existing_names),
    cmocka_unit_test (test_bridge_peer_uid),
    cmocka_unit_test (test_without_bcc),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
