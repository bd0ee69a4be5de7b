/* lineproto.c — the shell under the SMTP and POP3 engines: input lines,
 * the output queue, the first failure, the sanitiser for server text, the
 * credentials and SASL (see lineproto.h). */
#include "net/lineproto.h"

#include <string.h>

#include "util/error.h"
#include "util/secret.h"

struct _PstLineProto {
  char *name;
  PstLinebuf *in;
  PstLinebuf *out;
  gboolean eof;
  gboolean closed;
  GError *error;
  PstSaslCredentials *creds;   /* with cb_type and cb_data below in them */
  char *cb_type;
  GBytes *cb_data;
  PstSasl *sasl;
};

PstLineProto *
pst_lineproto_new (const char *name, gsize max_line)
{
  PstLineProto *lp = g_new0 (PstLineProto, 1);

  lp->name = g_strdup (name);
  lp->in = pst_linebuf_new (max_line);
  lp->out = pst_linebuf_new (0);
  return lp;
}

void
pst_lineproto_free (PstLineProto *lp)
{
  if (lp == NULL)
    return;
  g_free (lp->name);
  pst_linebuf_free (lp->in);
  pst_linebuf_free (lp->out);
  g_clear_error (&lp->error);
  pst_sasl_credentials_free (lp->creds);
  g_free (lp->cb_type);
  g_clear_pointer (&lp->cb_data, g_bytes_unref);
  pst_sasl_free (lp->sasl);
  g_free (lp);
}

gboolean
pst_lineproto_feed (PstLineProto *lp, const guint8 *data, gsize len)
{
  if (lp->error != NULL || lp->closed)
    return FALSE;
  pst_linebuf_append (lp->in, data, len);
  return TRUE;
}

void
pst_lineproto_feed_eof (PstLineProto *lp)
{
  lp->eof = TRUE;
}

gboolean
pst_lineproto_at_eof (PstLineProto *lp)
{
  return lp->eof;
}

void
pst_lineproto_close (PstLineProto *lp)
{
  lp->closed = TRUE;
}

PstLinebufResult
pst_lineproto_take_line (PstLineProto *lp, const char **line_out, gsize *len_out)
{
  return pst_linebuf_take_line (lp->in, line_out, len_out);
}

const guint8 *
pst_lineproto_peek_input (PstLineProto *lp, gsize *len_out)
{
  return pst_linebuf_peek (lp->in, len_out);
}

void
pst_lineproto_consume_input (PstLineProto *lp, gsize n)
{
  pst_linebuf_consume (lp->in, n);
}

gsize
pst_lineproto_pending_input (PstLineProto *lp)
{
  return pst_linebuf_get_pending (lp->in);
}

void
pst_lineproto_send_line (PstLineProto *lp, const char *format, ...)
{
  va_list ap;
  g_autofree char *line = NULL;

  if (lp->error != NULL)
    return;
  va_start (ap, format);
  line = g_strdup_vprintf (format, ap);
  va_end (ap);
  pst_linebuf_append_str (lp->out, line);
  pst_linebuf_append (lp->out, "\r\n", 2);
}

void
pst_lineproto_send_secret_line (PstLineProto *lp, const char *line)
{
  if (lp->error != NULL)
    return;
  pst_linebuf_append_str (lp->out, line);
  pst_linebuf_append (lp->out, "\r\n", 2);
}

void
pst_lineproto_send (PstLineProto *lp, const void *data, gsize len)
{
  if (lp->error != NULL)
    return;
  pst_linebuf_append (lp->out, data, len);
}

const guint8 *
pst_lineproto_get_output (PstLineProto *lp, gsize *len_out)
{
  return pst_linebuf_peek (lp->out, len_out);
}

void
pst_lineproto_consume_output (PstLineProto *lp, gsize n)
{
  pst_linebuf_consume (lp->out, n);
}

void
pst_lineproto_fail (PstLineProto *lp, const char *format, ...)
{
  va_list ap;

  if (lp->error != NULL)
    return;
  va_start (ap, format);
  lp->error = g_error_new_valist (PST_ERROR, PST_ERROR_NETWORK, format, ap);
  va_end (ap);
  g_debug ("%s: failed: %s", lp->name, lp->error->message);
  /* Nothing more may reach the server from a failed session. */
  pst_linebuf_clear (lp->out);
}

gboolean
pst_lineproto_failed (PstLineProto *lp)
{
  return lp->error != NULL;
}

const GError *
pst_lineproto_get_error (PstLineProto *lp)
{
  return lp->error;
}

gboolean
pst_lineproto_check (PstLineProto *lp, GError **error)
{
  if (lp->error == NULL)
    return TRUE;
  if (error != NULL)
    *error = g_error_copy (lp->error);
  return FALSE;
}

char *
pst_lineproto_sanitize (const char *text, gsize len)
{
  g_autofree char *copy = g_malloc (len + 1);

  /* Not g_strndup(): the text may hold NUL bytes. */
  memcpy (copy, text, len);
  copy[len] = '\0';
  for (gsize i = 0; i < len; i++)
    {
      guchar c = text[i];
      if (c < 0x20 || c == 0x7f)
        copy[i] = c == '\t' ? ' ' : '?';
    }
  return g_utf8_make_valid (copy, len);
}

void
pst_lineproto_trace (PstLineProto *lp, const char *state)
{
  g_debug ("%s: state %s", lp->name, state);
}

/* The credentials carry the channel binding that sasl.c reads; it is put
 * into them here, and only here. */
static void
bind_credentials (PstLineProto *lp)
{
  if (lp->creds == NULL)
    return;
  g_free (lp->creds->cb_type);
  g_clear_pointer (&lp->creds->cb_data, g_bytes_unref);
  lp->creds->cb_type = g_strdup (lp->cb_type);
  lp->creds->cb_data = lp->cb_data != NULL ? g_bytes_ref (lp->cb_data) : NULL;
}

void
pst_lineproto_set_credentials (PstLineProto *lp, const PstSaslCredentials *creds)
{
  pst_sasl_credentials_free (lp->creds);
  lp->creds = creds != NULL ? pst_sasl_credentials_copy (creds) : NULL;
  bind_credentials (lp);
}

void
pst_lineproto_set_channel_binding (PstLineProto *lp, const char *type, GBytes *data)
{
  g_clear_pointer (&lp->cb_type, g_free);
  g_clear_pointer (&lp->cb_data, g_bytes_unref);
  if (type != NULL && data != NULL)
    {
      lp->cb_type = g_strdup (type);
      lp->cb_data = g_bytes_ref (data);
    }
  bind_credentials (lp);
}

const PstSaslCredentials *
pst_lineproto_get_credentials (PstLineProto *lp)
{
  return lp->creds;
}

gboolean
pst_lineproto_auth_begin (PstLineProto *lp, const char *mech)
{
  g_autoptr (GError) error = NULL;
  char *line;

  g_clear_pointer (&lp->sasl, pst_sasl_free);
  if (!(lp->sasl = pst_sasl_new (mech, lp->creds, &error))
      || !(line = pst_sasl_auth_command (lp->sasl, &error)))
    {
      pst_lineproto_fail (lp, "%s", error->message);
      return FALSE;
    }
  /* The command comes with its CRLF. */
  pst_lineproto_send (lp, line, strlen (line));
  pst_secret_free (line);
  return TRUE;
}

gboolean
pst_lineproto_auth_step (PstLineProto *lp, const char *challenge)
{
  g_autoptr (GError) error = NULL;
  char *response = NULL;

  if (pst_sasl_step (lp->sasl, challenge, &response, &error) == PST_SASL_ERROR)
    {
      pst_lineproto_fail (lp, "%s", error->message);
      return FALSE;
    }
  pst_lineproto_send_secret_line (lp, response);
  pst_secret_free (response);
  return TRUE;
}

gboolean
pst_lineproto_auth_complete (PstLineProto *lp)
{
  return lp->sasl != NULL && pst_sasl_complete (lp->sasl);
}

const char *
pst_lineproto_auth_mechanism (PstLineProto *lp)
{
  return lp->sasl != NULL ? pst_sasl_mechanism (lp->sasl) : NULL;
}
