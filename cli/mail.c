/* mail.c — `postern send|fetch|list|show|export|attachment`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/error.h"
#include "util/text.h"

static const char *
str_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n) || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (n);
}

static JsonObject *
obj_member (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

gboolean
pst_cli_parse_id (const char *command, const char *text, gint64 *id_out)
{
  guint64 v = 0;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &v, NULL))
    {
      g_autofree char *why = g_strdup_printf (_("'%s' is not a message id"), text);
      pst_cli_usage (command, why);
      return FALSE;
    }
  *id_out = (gint64) v;
  return TRUE;
}

gboolean
pst_cli_send_settings (const char *command, JsonObject *params, const char *account,
                       const char *encrypt, const char *scheme, gboolean sign, gboolean no_sign)
{
  if (sign && no_sign)
    {
      pst_cli_usage (command, _("--sign and --no-sign exclude each other"));
      return FALSE;
    }
  if (encrypt && strcmp (encrypt, "always") && strcmp (encrypt, "auto") && strcmp (encrypt, "never"))
    {
      pst_cli_usage (command, _("--encrypt takes always, auto or never"));
      return FALSE;
    }
  if (account)
    json_object_set_string_member (params, "account", account);
  if (encrypt)
    json_object_set_string_member (params, "encrypt", encrypt);
  if (scheme)
    json_object_set_string_member (params, "scheme", scheme);
  if (sign || no_sign)
    json_object_set_boolean_member (params, "sign", sign);
  return TRUE;
}

void
pst_cli_send_warnings (const char *command, JsonObject *r)
{
  if (json_object_has_member (r, "keys"))
    {
      JsonArray *keys = json_object_get_array_member (r, "keys");

      for (guint i = 0; i < json_array_get_length (keys); i++)
        {
          JsonObject *k = json_array_get_object_element (keys, i);
          g_autofree char *addr = NULL;

          if (!json_object_get_boolean_member_with_default (k, "key_changed", FALSE))
            continue;
          addr = pst_cli_safe (json_object_get_string_member (k, "address"));
          fprintf (stderr, _("postern: %s: warning: encrypted to a key of %s that replaced "
                             "another one (key-changed; see postern keys check %s)\n"),
                   command, addr, addr);
        }
    }
  if (json_object_has_member (r, "missing_keys"))
    {
      JsonArray *m = json_object_get_array_member (r, "missing_keys");
      fprintf (stderr, "postern: %s: %s", command, _("not encrypted: no key for"));
      for (guint i = 0; i < json_array_get_length (m); i++)
        {
          g_autofree char *addr = pst_cli_safe (json_array_get_string_element (m, i));
          fprintf (stderr, " %s", addr);
        }
      fprintf (stderr, "\n");
    }
  else if (json_object_has_member (r, "not_recommended"))
    {
      JsonArray *m = json_object_get_array_member (r, "not_recommended");
      fprintf (stderr, "postern: %s: %s", command,
               _("not encrypted: Autocrypt does not recommend encrypting to"));
      for (guint i = 0; i < json_array_get_length (m); i++)
        {
          g_autofree char *addr = pst_cli_safe (json_array_get_string_element (m, i));
          fprintf (stderr, " %s", addr);
        }
      fprintf (stderr, "\n");
    }
}

int
pst_cli_cmd_send (PstCli *cli, int argc, char **argv)
{
  g_autofree char *account = NULL, *encrypt = NULL, *scheme = NULL;
  gboolean sign = FALSE, no_sign = FALSE, wait = FALSE;
  GOptionEntry entries[] = {
    { "account", 0, 0, G_OPTION_ARG_STRING, &account, N_("Send from this account"), "NAME" },
    { "encrypt", 0, 0, G_OPTION_ARG_STRING, &encrypt, N_("always, auto or never"), "MODE" },
    { "sign", 0, 0, G_OPTION_ARG_NONE, &sign, N_("Sign (the default)"), NULL },
    { "no-sign", 0, 0, G_OPTION_ARG_NONE, &no_sign, N_("Do not sign"), NULL },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme, N_("pgp or smime"), "SCHEME" },
    { "wait", 0, 0, G_OPTION_ARG_NONE, &wait, N_("Wait until the server accepted or refused it"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  int fd, status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return pst_cli_usage ("send", _("give at most one FILE"));
  params = json_object_new ();
  if (!pst_cli_send_settings ("send", params, account, encrypt, scheme, sign, no_sign))
    {
      json_object_unref (params);
      return PST_ERROR_USAGE;
    }
  if (argc == 2 && strcmp (argv[1], "-") != 0)
    {
      fd = open (argv[1], O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        {
          fprintf (stderr, "postern: send: %s: %s\n", argv[1], g_strerror (errno));
          json_object_unref (params);
          return PST_ERROR_FAILED;
        }
    }
  else
    fd = dup (STDIN_FILENO);

  json_object_set_int_member (params, "fd", 0);
  json_object_set_boolean_member (params, "wait", wait);
  r = pst_cli_call (cli, "send", "send", params, &fd, 1, &status);
  close (fd);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      gboolean enc = json_object_get_boolean_member (r, "encrypted");
      gboolean sig = json_object_get_boolean_member (r, "signed");
      const char *state = str_member (r, "state");
      g_autofree char *reply = pst_cli_safe (str_member (r, "reply"));
      printf (_("message %lld %s (%s, %s)%s%s\n"),
              (long long) json_object_get_int_member (r, "id"),
              g_strcmp0 (state, "sent") == 0 ? _("sent") : _("queued"),
              enc ? _("encrypted") : _("NOT encrypted"), sig ? _("signed") : _("not signed"),
              str_member (r, "reply") ? ": " : "", reply);
      pst_cli_send_warnings ("send", r);
    }
  json_object_unref (r);
  return 0;
}

/* Fetch progress on a terminal: a second connection, subscribed to
 * fetch.progress before the fetch starts, prints "fetching from ACCOUNT:
 * N of M" on
 * stderr as the agent stores each message (one line, rewritten). */
typedef struct {
  PstRpcClient *client;
  GThread *thread;
  gboolean shown;     /* a progress line is on the terminal; the thread's until joined */
} Progress;

static gpointer
progress_thread (gpointer data)
{
  Progress *pr = data;

  for (;;)
    {
      g_autofree char *method = NULL;
      g_autoptr (JsonObject) p = pst_rpc_client_next_notification (pr->client, &method, NULL);
      g_autofree char *account = NULL;

      if (p == NULL)
        return NULL;
      if (g_strcmp0 (method, "fetch.progress") != 0)
        continue;
      /* The account name is the user's, but it came over a socket. */
      account = pst_cli_safe (json_object_get_string_member_with_default (p, "account", ""));
      fprintf (stderr, "\r\033[K");
      fprintf (stderr, _("fetching from %s: %lld of %lld"), account,
               (long long) json_object_get_int_member_with_default (p, "fetched", 0),
               (long long) json_object_get_int_member_with_default (p, "total", 0));
      fflush (stderr);
      pr->shown = TRUE;
    }
}

/* Starts showing progress, when stderr is a terminal and the output is
 * not JSON; a failure to subscribe only means no progress is shown. */
static void
progress_start (PstCli *cli, Progress *pr)
{
  static const char *const events[] = { "fetch.progress", NULL };
  g_autoptr (JsonObject) r = NULL;
  JsonObject *params;

  if (cli->json || !isatty (STDERR_FILENO) || !(pr->client = pst_cli_connect (cli, TRUE, NULL)))
    return;
  params = json_object_new ();
  json_object_set_array_member (params, "events", json_array_new ());
  for (guint i = 0; events[i] != NULL; i++)
    json_array_add_string_element (json_object_get_array_member (params, "events"), events[i]);
  if (!(r = pst_rpc_client_call (pr->client, "subscribe", params, NULL, 0, NULL)))
    {
      g_clear_pointer (&pr->client, pst_rpc_client_free);
      return;
    }
  pr->thread = g_thread_new ("progress", progress_thread, pr);
}

static void
progress_stop (Progress *pr)
{
  if (pr->client == NULL)
    return;
  pst_rpc_client_shutdown (pr->client);
  g_thread_join (pr->thread);
  g_clear_pointer (&pr->client, pst_rpc_client_free);
  if (pr->shown)
    fprintf (stderr, "\r\033[K");
}

int
pst_cli_cmd_fetch (PstCli *cli, int argc, char **argv)
{
  Progress progress = { 0 };
  g_autofree char *account = NULL;
  GOptionEntry entries[] = {
    { "account", 0, 0, G_OPTION_ARG_STRING, &account, N_("Fetch only this account"), "NAME" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return pst_cli_usage ("fetch", _("takes no arguments besides --account"));
  params = json_object_new ();
  if (account)
    json_object_set_string_member (params, "account", account);
  {
    /* The call made here, not by pst_cli_call: an error is printed after
     * the progress line is gone. */
    g_autoptr (GError) error = NULL;
    g_autoptr (PstRpcClient) client = pst_cli_connect (cli, TRUE, &error);

    if (client == NULL)
      {
        json_object_unref (params);
        return pst_cli_fail ("fetch", error);
      }
    progress_start (cli, &progress);
    r = pst_rpc_client_call (client, "fetch", params, NULL, 0, &error);
    progress_stop (&progress);
    if (r == NULL)
      return pst_cli_fail ("fetch", error);
  }
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      gint64 n = json_object_get_int_member (r, "fetched");
      printf (ngettext ("%lld new message\n", "%lld new messages\n", (unsigned long) n),
              (long long) n);
    }
  json_object_unref (r);
  return 0;
}

/* A short mark for list: E encrypted, S signed good, S! signature problem. */
static char *
crypto_mark (JsonObject *crypto)
{
  JsonObject *sig = obj_member (crypto, "signature");
  const char *dec = str_member (crypto, "decryption");
  const char *st = str_member (sig, "status");
  GString *s = g_string_new (NULL);

  /* The analysis worker failed on it (agent/worker.h): no verdict yet. */
  if (g_strcmp0 (str_member (crypto, "analysis"), "failed") == 0)
    return g_strdup ("A!");
  if (g_strcmp0 (dec, "ok") == 0)
    g_string_append (s, "E");
  else if (g_strcmp0 (dec, "failed") == 0 || g_strcmp0 (dec, "too-large") == 0)
    g_string_append (s, "E!");
  if (st && g_strcmp0 (st, "none") != 0)
    {
      gboolean good = g_strcmp0 (st, "good") == 0 && json_object_get_boolean_member_with_default (sig, "from_match", FALSE)
                      && g_strcmp0 (str_member (sig, "covers"), "whole") == 0;
      g_string_append (s, good ? "S" : "S!");
    }
  return g_string_free (s, FALSE);
}

static void
print_row (JsonObject *m)
{
  g_autofree char *mark = crypto_mark (obj_member (m, "crypto"));
  g_autofree char *date = pst_cli_column (str_member (m, "date"), 31);
  g_autofree char *from = pst_cli_column (str_member (m, "from"), 28);
  /* On a terminal the Subject is cut to the line's width: wrapped by the
   * terminal, its rest would begin a line of its own, in the form of a
   * row. */
  g_autofree char *subject = isatty (STDOUT_FILENO)
                               ? g_strchomp (pst_cli_column (str_member (m, "subject"),
                                                             MAX (pst_cli_width (), 80) - 76))
                               : pst_cli_safe (str_member (m, "subject"));
  /* An unread message has a star after its id. */
  printf ("%6" G_GINT64_FORMAT "%c %-3s %s  %s  %s\n",
          json_object_get_int_member (m, "id"),
          json_object_get_boolean_member_with_default (m, "unread", FALSE) ? '*' : ' ', mark,
          date, from, subject);
}

/* The agent's largest page and the default --limit (methods-mail.c). */
#define LIST_PAGE 2000
#define LIST_DEFAULT 200

int
pst_cli_cmd_list (PstCli *cli, int argc, char **argv)
{
  g_autofree char *account = NULL, *search = NULL;
  int limit = 0, offset = 0, status = 0;
  gboolean unread = FALSE;
  GOptionEntry entries[] = {
    { "account", 0, 0, G_OPTION_ARG_STRING, &account, N_("Only this account"), "NAME" },
    { "unread", 0, 0, G_OPTION_ARG_NONE, &unread, N_("Only unread messages"), NULL },
    { "limit", 0, 0, G_OPTION_ARG_INT, &limit, N_("At most N messages, newest first (default 200)"), "N" },
    { "offset", 0, 0, G_OPTION_ARG_INT, &offset, N_("Skip the N newest first"), "N" },
    { "search", 0, 0, G_OPTION_ARG_STRING, &search,
      N_("Only messages whose From or Subject holds TEXT (case ignored)"), "TEXT" },
    G_OPTION_ENTRY_NULL,
  };
  g_autoptr (GError) error = NULL;
  g_autoptr (PstRpcClient) client = NULL;
  gint64 before = 0;
  guint listed = 0, wanted;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 1 || limit < 0 || offset < 0)
    return pst_cli_usage ("list", _("takes --account NAME, --limit N, --offset N, --unread and --search TEXT only"));
  wanted = limit > 0 ? (guint) limit : LIST_DEFAULT;
  if (!(client = pst_cli_connect (cli, TRUE, &error)))
    return pst_cli_fail ("list", error);
  /* Any --limit, a page of the agent's at a time: the first at --offset,
   * each next one below the last id shown (the order is by id, so the
   * pages neither overlap nor leave a gap), printed as it comes, so that
   * memory holds one page.  --json is still one document. */
  if (cli->json)
    printf ("{\n  \"messages\" : [");
  while (listed < wanted)
    {
      JsonObject *params = json_object_new (), *r;
      JsonArray *arr;
      guint n;
      gboolean more;

      if (account)
        json_object_set_string_member (params, "account", account);
      if (search)
        json_object_set_string_member (params, "query", search);
      if (unread)
        json_object_set_boolean_member (params, "unread", TRUE);
      json_object_set_int_member (params, "limit", MIN (wanted - listed, LIST_PAGE));
      if (before > 0)
        json_object_set_int_member (params, "before", before);
      else if (offset > 0)
        json_object_set_int_member (params, "offset", offset);
      if (!(r = pst_rpc_client_call (client, "list", params, NULL, 0, &error)))
        {
          if (cli->json)
            printf ("\n");
          fflush (stdout);
          return pst_cli_fail ("list", error);
        }
      arr = json_object_get_array_member (r, "messages");
      n = json_array_get_length (arr);
      for (guint i = 0; i < n; i++)
        {
          JsonObject *m = json_array_get_object_element (arr, i);

          if (cli->json)
            {
              g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
              g_autofree char *text = NULL, *safe = NULL;

              json_node_set_object (node, m);
              text = json_to_string (node, FALSE);
              safe = pst_text_sanitize_json (text);
              printf ("%s\n    %s", listed + i ? "," : "", safe);
            }
          else
            print_row (m);
          before = json_object_get_int_member (m, "id");
        }
      listed += n;
      /* A page stops short of its limit when the list ends, or ("more")
       * when its answer would not fit in one line. */
      more = json_object_get_boolean_member_with_default (r, "more", FALSE);
      json_object_unref (r);
      if (n == 0 || (!more && n < MIN (wanted - listed + n, LIST_PAGE)))
        break;
    }
  if (cli->json)
    printf ("%s]\n}\n", listed ? "\n  " : "");
  return 0;
}

/* @label (padded to @label_width) and @text, laid out in the terminal's
 * width: the lines after the first are indented, so that nothing a message
 * says, however long or however many spaces it holds, begins a line at the
 * left margin, where Postern's own lines begin. */
static void
print_wrapped (const char *label, guint label_width, const char *text)
{
  guint width = pst_cli_width ();
  /* A translated label may be wider than the column: the column grows, and
   * it is counted in characters, not bytes. */
  guint label_cells = (guint) g_utf8_strlen (label, -1);
  guint column = MAX (label_width, label_cells);
  g_auto (GStrv) lines = pst_cli_wrap (text, width > column + 9 ? width - column - 1 : 8, column + 1);

  for (guint i = 0; lines[i] != NULL; i++)
    printf ("%s%*s %s\n", i == 0 ? label : "", (int) (column - (i == 0 ? label_cells : 0)), "",
            lines[i]);
}

static void
print_status_block (JsonObject *crypto, JsonObject *scan, JsonArray *mismatch)
{
  JsonObject *sig = obj_member (crypto, "signature");
  const char *dec = str_member (crypto, "decryption");
  const char *scheme = str_member (crypto, "scheme");
  const char *st = str_member (sig, "status");
  const char *signer = str_member (sig, "signer");

  g_autofree char *encryption = NULL, *signature = NULL;

  printf ("%s\n", _("== Postern status (drawn by Postern, not part of the message) =="));
  if (g_strcmp0 (dec, "ok") == 0)
    encryption = g_strdup_printf ("%s %s, %s %s, %s %s", _("encrypted"),
                                  g_strcmp0 (scheme, "smime") == 0 ? "(S/MIME)" : "(OpenPGP)", _("covers"),
                                  str_member (crypto, "encryption_covers"), _("integrity"),
                                  str_member (crypto, "integrity") ? str_member (crypto, "integrity") : "-");
  else if (g_strcmp0 (dec, "failed") == 0)
    encryption = g_strdup (_("DECRYPTION FAILED: the content is not shown"));
  else if (g_strcmp0 (dec, "too-large") == 0)
    encryption = g_strdup (_("NOT DECRYPTED: the content expands past the decryption limit (a compression bomb?) "
                             "and is not shown; the message is kept as received"));
  else
    encryption = g_strdup (_("not encrypted: the provider could read it"));
  /* Every line of the block is laid out in the terminal's width too: the
   * signer's address and an S/MIME fingerprint (64 digits) make the
   * Signature line long, and a terminal that wrapped it would begin the
   * signer's words at the margin. */
  print_wrapped (_("Encryption:"), 11, encryption);
  if (st == NULL || g_strcmp0 (st, "none") == 0)
    signature = g_strdup (_("none"));
  else
    {
      gboolean match = json_object_get_boolean_member_with_default (sig, "from_match", FALSE);
      const char *fingerprint = str_member (sig, "fingerprint");
      g_autofree char *fpr = pst_cli_safe (fingerprint ? fingerprint : "?");
      g_autofree char *safe_st = pst_cli_safe (st);

      /* The signer comes from a key or a certificate: only a plain address
       * is shown, never words that could read as more of this line. */
      if (!pst_text_is_plain_address (signer))
        signer = signer ? _("an unknown signer") : "?";
      signature = g_strdup_printf ("%s, %s %s (%s), %s, %s %s", safe_st, _("by"), signer, fpr,
                                   match ? _("matches From") : _("DOES NOT match From"), _("covers"),
                                   str_member (sig, "covers"));
    }
  print_wrapped (_("Signature:"), 11, signature);
  if (json_object_get_boolean_member_with_default (crypto, "protected_headers", FALSE))
    printf ("%-11s %s\n", _("Headers:"), _("protected"));
  /* An address field that says otherwise inside the encryption than outside,
   * and was not signed by its author: the outside one is shown below, the
   * inner one only here, as the claim it is (DESIGN.md §4). */
  for (guint i = 0; mismatch != NULL && i < json_array_get_length (mismatch); i++)
    {
      JsonObject *m = json_array_get_object_element (mismatch, i);
      g_autofree char *field = pst_cli_safe (str_member (m, "field"));
      g_autofree char *inner = pst_cli_safe (str_member (m, "inner"));
      g_autofree char *said = g_strdup_printf (_("%s inside the encryption says \"%s\", unsigned: not shown"),
                                               field, inner);

      print_wrapped (_("Headers:"), 11, said);
    }
  {
    JsonArray *warnings = crypto ? json_object_get_array_member (crypto, "warnings") : NULL;
    g_autoptr (GString) words = g_string_new (NULL);

    for (guint i = 0; warnings != NULL && i < json_array_get_length (warnings); i++)
      {
        g_autofree char *word = pst_cli_safe (json_array_get_string_element (warnings, i));

        g_string_append_printf (words, "%s%s", i ? ", " : "", word);
      }
    if (words->len > 0)
      printf ("%-11s %s\n", _("Warnings:"), words->str);
  }
  printf ("%-11s %s\n", _("Scan:"), str_member (scan, "verdict") ? str_member (scan, "verdict") : "-");
  printf ("%s\n", "==");
}

/* The message's text, every line after "| ".  Sanitised, no line of it can
 * move the cursor, so the status block above stays as Postern drew it; the
 * gutter also keeps a sender from imitating the block further down, where
 * it would be read once the real one has scrolled off the screen: a
 * "Signature: good" written in the body still begins with "| ", and only
 * lines that Postern writes begin at the margin.  That costs copying the
 * text by hand; `export` and --json give it as it is. */
static void
print_body (const char *body)
{
  g_autofree char *safe = NULL;
  g_auto (GStrv) lines = NULL;
  guint n, width;

  if (body == NULL)
    return;
  safe = pst_text_sanitize_body (body, -1);
  lines = g_strsplit (safe, "\n", -1);
  n = g_strv_length (lines);
  width = pst_cli_width ();
  /* A final line end ends the last line; it does not begin another. */
  if (n > 0 && *lines[n - 1] == '\0')
    n--;
  printf ("\n");
  for (guint i = 0; i < n; i++)
    {
      /* Wrapped here, each piece behind the gutter: the terminal's own
       * wrapping would begin the rest of a long line at the margin. */
      g_auto (GStrv) pieces = pst_cli_wrap (lines[i], width > 10 ? width - 2 : 8, 2);

      for (guint j = 0; pieces[j] != NULL; j++)
        printf ("|%s%s\n", *pieces[j] ? " " : "", pieces[j]);
    }
}

int
pst_cli_cmd_show (PstCli *cli, int argc, char **argv)
{
  static const char *const hdrs[][2] = {
    { "from", N_("From:") }, { "to", N_("To:") }, { "cc", N_("Cc:") },
    { "subject", N_("Subject:") }, { "date", N_("Date:") },
  };
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  JsonObject *params, *r, *headers, *crypto;
  gint64 id;
  int status = 0, rc = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage ("show", _("give exactly one message ID"));
  if (!pst_cli_parse_id ("show", argv[1], &id))
    return PST_ERROR_USAGE;
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  r = pst_cli_call (cli, "show", "show", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  crypto = obj_member (r, "crypto");
  if (g_strcmp0 (str_member (crypto, "decryption"), "failed") == 0
      || g_strcmp0 (str_member (crypto, "decryption"), "too-large") == 0)
    rc = PST_ERROR_CRYPTO;
  if (cli->json)
    {
      pst_cli_print_json (r);
      json_object_unref (r);
      return rc;
    }
  print_status_block (crypto, obj_member (r, "scan"),
                      json_object_has_member (r, "header_mismatch")
                        ? json_object_get_array_member (r, "header_mismatch") : NULL);
  headers = obj_member (r, "headers");
  for (gsize i = 0; i < G_N_ELEMENTS (hdrs); i++)
    if (str_member (headers, hdrs[i][0]))
      {
        g_autofree char *value = pst_cli_safe (str_member (headers, hdrs[i][0]));
        print_wrapped (_(hdrs[i][1]), 9, value);
      }
  {
    JsonArray *att = json_object_get_array_member (r, "attachments");
    for (guint i = 0; att && i < json_array_get_length (att); i++)
      {
        JsonObject *a = json_array_get_object_element (att, i);
        g_autofree char *name = pst_cli_safe (str_member (a, "name"));
        g_autofree char *type = pst_cli_safe (str_member (a, "type"));
        g_autofree char *both = g_strdup_printf ("%s (%s)", name, type);
        print_wrapped (_("Attached:"), 9, both);
      }
    if (att && json_object_get_boolean_member_with_default (r, "attachments_truncated", FALSE))
      {
        gint64 more = json_object_get_int_member_with_default (r, "attachments_total", 0)
                      - (gint64) json_array_get_length (att);
        printf ("%-9s ", "");
        printf (ngettext ("… and %lld more attachment not listed\n",
                          "… and %lld more attachments not listed\n", (unsigned long) more),
                (long long) more);
      }
  }
  if (g_strcmp0 (str_member (r, "body_format"), "html-as-text") == 0)
    printf ("%s\n", _("(Written in HTML: shown as text; nothing was loaded from the network.)"));
  print_body (str_member (r, "body_text"));
  json_object_unref (r);
  return rc;
}

int
pst_cli_cmd_export (PstCli *cli, int argc, char **argv)
{
  gboolean raw = FALSE, all = FALSE;
  g_autofree char *account = NULL, *mbox = NULL, *maildir = NULL;
  GOptionEntry entries[] = {
    { "raw", 0, 0, G_OPTION_ARG_NONE, &raw,
      N_("The message as it arrived, not decrypted and not analysed (also one that could not be "
         "analysed)"), NULL },
    { "all", 0, 0, G_OPTION_ARG_NONE, &all,
      N_("Every stored message (of --account), decrypted, to --mbox FILE or --maildir DIR"), NULL },
    { "account", 0, 0, G_OPTION_ARG_STRING, &account, N_("With --all: only this account"), "NAME" },
    { "mbox", 0, 0, G_OPTION_ARG_FILENAME, &mbox,
      N_("With --all: write a new mbox file (mboxrd)"), "FILE" },
    { "maildir", 0, 0, G_OPTION_ARG_FILENAME, &maildir,
      N_("With --all: write into a Maildir (made when missing)"), "DIR" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  gint64 id;
  int status = 0, fd = STDOUT_FILENO;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (all)
    {
      if (argc != 1 || raw)
        return pst_cli_usage ("export", _("--all takes no message ID and no --raw"));
      return pst_cli_export_all (cli, account, mbox, maildir);
    }
  if (account || mbox || maildir)
    return pst_cli_usage ("export", _("--account, --mbox and --maildir go with --all"));
  if (argc != 2)
    return pst_cli_usage ("export", _("give exactly one message ID"));
  if (!pst_cli_parse_id ("export", argv[1], &id))
    return PST_ERROR_USAGE;
  if (pst_cli_refuse_terminal ("export"))
    return PST_ERROR_USAGE;
  fflush (stdout);
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  json_object_set_int_member (params, "fd", 0);
  if (raw)
    json_object_set_boolean_member (params, "raw", TRUE);
  r = pst_cli_call (cli, "export", "export", params, &fd, 1, &status);
  if (r == NULL)
    return status;
  json_object_unref (r);
  return 0;
}

int
pst_cli_open_new_file (const char *command, const char *path)
{
  int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);

  if (fd < 0)
    fprintf (stderr, "postern: %s: %s: %s\n", command, path,
             errno == EEXIST ? _("the file exists; it is not overwritten") : g_strerror (errno));
  return fd;
}

int
pst_cli_output_fd (const char *command, const char *out, int *status)
{
  int fd = STDOUT_FILENO;

  if (out == NULL && pst_cli_refuse_terminal (command))
    {
      *status = PST_ERROR_USAGE;
      return -1;
    }
  if (out != NULL && (fd = pst_cli_open_new_file (command, out)) < 0)
    {
      *status = PST_ERROR_FAILED;
      return -1;
    }
  fflush (stdout);
  return fd;
}

JsonObject *
pst_cli_call_to_file (PstCli *cli, const char *what, const char *method, JsonObject *params,
                      const char *out, int fd, int *status)
{
  JsonObject *r = pst_cli_call (cli, what, method, params, &fd, 1, status);

  if (out != NULL)
    {
      if (close (fd) != 0 && r != NULL)
        {
          fprintf (stderr, "postern: %s: %s: %s\n", what, out, g_strerror (errno));
          g_clear_pointer (&r, json_object_unref);
          *status = PST_ERROR_FAILED;
        }
      /* nothing half written is left behind */
      if (r == NULL)
        unlink (out);
    }
  return r;
}

int
pst_cli_cmd_attachment (PstCli *cli, int argc, char **argv)
{
  g_autofree char *out = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
      N_("Write to FILE, which must not exist (default: standard output)"), "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  gint64 id;
  guint64 index = 0;
  int status = 0, fd = STDOUT_FILENO;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 3)
    return pst_cli_usage ("attachment", _("give a message ID and an attachment INDEX (from 0)"));
  if (!pst_cli_parse_id ("attachment", argv[1], &id))
    return PST_ERROR_USAGE;
  if (!g_ascii_string_to_unsigned (argv[2], 10, 0, G_MAXINT, &index, NULL))
    {
      g_autofree char *why = g_strdup_printf (_("'%s' is not an attachment index (0, 1, …)"),
                                              argv[2]);
      return pst_cli_usage ("attachment", why);
    }
  if (cli->json && out == NULL)
    return pst_cli_usage ("attachment", _("--json needs -o FILE: the attachment goes to "
                                          "standard output otherwise"));
  if ((fd = pst_cli_output_fd ("attachment", out, &status)) < 0)
    return status;
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  json_object_set_int_member (params, "index", (gint64) index);
  json_object_set_int_member (params, "fd", 0);
  r = pst_cli_call_to_file (cli, "attachment", "attachment", params, out, fd, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else if (out != NULL)
    {
      g_autofree char *name = pst_cli_safe (str_member (r, "name"));
      g_autofree char *type = pst_cli_safe (str_member (r, "type"));
      printf (_("wrote %s (%s, %lld bytes) to %s\n"), name, type,
              (long long) json_object_get_int_member (r, "size"), out);
    }
  json_object_unref (r);
  return 0;
}
