/* fuzz-pop3-server — the input is what a client says to the bridge's POP3
 * server (pop3-server.h), fed in pieces whose size comes from the first
 * byte.  Invariants: every response starts with +OK or -ERR; no message
 * is read before a login; retrieve and commit get indices of the maildrop,
 * commit each at most once and only at QUIT; the password never comes
 * back; a multi-line answer never holds a line that is a lone dot before
 * its end (dot-stuffing). */
#include "fuzz-common.h"

#include "net/pop3-server.h"

#define USER "fuzz-user"
#define PASSWORD "fuzz-Secret-0xC0FFEE"

static const char *const messages[] = {
  "Subject: one\r\n\r\n.\r\n..two\r\nend\r\n",
  "Subject: two\n\nbare LF\n.\nno final newline",
  "",
};

typedef struct {
  gboolean logged_in;
  guint commits;
} State;

static PstPop3Login
on_auth (gpointer data, PstPop3Server *s, const char *user, const char *password)
{
  State *st = data;

  if (g_str_equal (user, "busy"))
    return PST_POP3_LOGIN_IN_USE;
  if (!g_str_equal (user, USER) || !g_str_equal (password, PASSWORD))
    return PST_POP3_LOGIN_REFUSED;
  for (guint i = 0; i < G_N_ELEMENTS (messages); i++)
    {
      g_autofree char *uidl = g_strdup_printf ("uidl-%u", i);

      pst_pop3_server_add_message (s, uidl, strlen (messages[i]));
    }
  st->logged_in = TRUE;
  return PST_POP3_LOGIN_OK;
}

static GBytes *
on_retrieve (gpointer data, guint index, GError **error)
{
  State *st = data;

  FUZZ_CHECK (st->logged_in, "retrieve before a login");
  FUZZ_CHECK (index < G_N_ELEMENTS (messages), "retrieve %u", index);
  if (index == 2)
    {
      g_set_error_literal (error, g_quark_from_static_string ("fuzz"), 1, "quarantined");
      return NULL;
    }
  return g_bytes_new_static (messages[index], strlen (messages[index]));
}

static gboolean
on_commit (gpointer data, const guint *indices, guint n, GError **error)
{
  State *st = data;

  FUZZ_CHECK (st->logged_in && st->commits++ == 0, "commit twice or before a login");
  FUZZ_CHECK (n > 0 && n <= G_N_ELEMENTS (messages), "commit of %u", n);
  for (guint i = 0; i < n; i++)
    FUZZ_CHECK (indices[i] < G_N_ELEMENTS (messages) && (i == 0 || indices[i] > indices[i - 1]),
                "commit index %u", indices[i]);
  return TRUE;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_make_criticals_fatal ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static const PstPop3ServerHooks hooks = { on_auth, on_retrieve, on_commit };
  State st = { FALSE, 0 };
  g_autoptr (PstPop3Server) s = NULL;
  g_autoptr (GString) out = g_string_new (NULL);
  gsize piece, pos = 1;
  gboolean closed = FALSE;

  if (size == 0)
    return 0;
  piece = data[0] ? data[0] : 1;
  s = pst_pop3_server_new (TRUE, &hooks, &st);
  {
    gsize len = 0;
    const guint8 *o = pst_pop3_server_get_output (s, &len);

    g_string_append_len (out, (const char *) o, len);
    pst_pop3_server_consume_output (s, len);
  }
  while (pos < size && !closed)
    {
      gsize n = MIN (piece, size - pos), len = 0;
      PstPop3ServerAction a = pst_pop3_server_feed (s, data + pos, n);
      const guint8 *o = pst_pop3_server_get_output (s, &len);

      g_string_append_len (out, (const char *) o, len);
      pst_pop3_server_consume_output (s, len);
      while (a == PST_POP3_SERVER_CONTINUE && pst_pop3_server_stalled (s))
        {
          a = pst_pop3_server_feed (s, NULL, 0);
          o = pst_pop3_server_get_output (s, &len);
          g_string_append_len (out, (const char *) o, len);
          pst_pop3_server_consume_output (s, len);
        }
      pos += n;
      if (a == PST_POP3_SERVER_START_TLS)
        pst_pop3_server_tls_started (s);
      else if (a == PST_POP3_SERVER_CLOSE)
        closed = TRUE;
    }
  FUZZ_CHECK (g_str_has_prefix (out->str, "+OK "), "greeting");
  FUZZ_CHECK (out->len >= 2 && out->str[out->len - 2] == '\r' && out->str[out->len - 1] == '\n',
              "output does not end with CRLF");
  FUZZ_CHECK (strstr (out->str, PASSWORD) == NULL, "the password in a response");
  /* A line "." only ends a multi-line answer; the next line is a response. */
  {
    g_auto (GStrv) lines = g_strsplit (out->str, "\r\n", -1);

    for (guint i = 1; lines[i] != NULL && lines[i + 1] != NULL; i++)
      if (g_str_equal (lines[i - 1], ".") && lines[i][0] != '\0')
        FUZZ_CHECK (g_str_has_prefix (lines[i], "+OK") || g_str_has_prefix (lines[i], "-ERR"),
                    "after a final dot: \"%s\"", lines[i]);
  }
  return 0;
}
