/* sasl.c — SASL client mechanisms (see sasl.h).
 *
 * libgsasl does PLAIN, LOGIN, SCRAM-SHA-256(-PLUS) and EXTERNAL.  XOAUTH2
 * (Google's and Microsoft's) and OAUTHBEARER (RFC 7628) are written here:
 * libgsasl 2.2, the version in Debian 12, has neither, and each is one
 * client message plus the answer to an error challenge. */
#include "net/sasl.h"

#include <string.h>
#include <gsasl.h>

#include "util/error.h"
#include "util/secret.h"

typedef enum { MECH_GSASL, MECH_XOAUTH2, MECH_OAUTHBEARER } MechKind;

struct _PstSasl {
  char *mech;
  MechKind kind;
  PstSaslCredentials *creds;
  Gsasl_session *session;
  guint steps;
  gboolean complete;
  gboolean failed_challenge;   /* XOAUTH2/OAUTHBEARER: the server sent its error */
};

/* Strongest first.  Each: the name, and what it needs. */
typedef enum { NEED_PASSWORD, NEED_PASSWORD_CB, NEED_TOKEN, NEED_CERT } Need;
static const struct {
  const char *name;
  Need need;
} mechanisms[] = {
  { "EXTERNAL", NEED_CERT },
  { "OAUTHBEARER", NEED_TOKEN },
  { "XOAUTH2", NEED_TOKEN },
  { "SCRAM-SHA-256-PLUS", NEED_PASSWORD_CB },
  { "SCRAM-SHA-256", NEED_PASSWORD },
  { "PLAIN", NEED_PASSWORD },
  { "LOGIN", NEED_PASSWORD },
};

static Gsasl *
gsasl_context (GError **error)
{
  static gsize once = 0;
  static Gsasl *ctx = NULL;

  if (g_once_init_enter (&once))
    {
      Gsasl *c = NULL;

      if (gsasl_init (&c) != GSASL_OK)
        c = NULL;
      ctx = c;
      g_once_init_leave (&once, 1);
    }
  if (ctx == NULL)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "cannot initialise libgsasl");
  return ctx;
}

PstSaslCredentials *
pst_sasl_credentials_copy (const PstSaslCredentials *c)
{
  PstSaslCredentials *n = g_new0 (PstSaslCredentials, 1);

  n->user = g_strdup (c->user);
  n->password = g_strdup (c->password);
  n->token = g_strdup (c->token);
  n->client_cert = c->client_cert;
  n->cb_type = g_strdup (c->cb_type);
  n->cb_data = c->cb_data ? g_bytes_ref (c->cb_data) : NULL;
  n->host = g_strdup (c->host);
  n->port = c->port;
  n->allowed = g_strdupv (c->allowed);
  return n;
}

void
pst_sasl_credentials_free (PstSaslCredentials *c)
{
  if (c == NULL)
    return;
  pst_secret_free (c->user);
  pst_secret_free (c->password);
  pst_secret_free (c->token);
  g_free (c->cb_type);
  if (c->cb_data)
    g_bytes_unref (c->cb_data);
  g_free (c->host);
  g_strfreev (c->allowed);
  g_free (c);
}

gboolean
pst_sasl_allowed (const PstSaslCredentials *c, const char *mech)
{
  if (c->allowed == NULL)
    return TRUE;
  for (char **a = c->allowed; *a; a++)
    if (g_ascii_strcasecmp (*a, mech) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
offered (const char *list, const char *name)
{
  g_auto (GStrv) tokens = g_strsplit_set (list ? list : "", " \t", -1);

  for (guint i = 0; tokens[i] != NULL; i++)
    if (g_ascii_strcasecmp (tokens[i], name) == 0)
      return TRUE;
  return FALSE;
}

static gboolean
can_use (Need need, const PstSaslCredentials *c)
{
  switch (need)
    {
    case NEED_CERT: return c->client_cert;
    case NEED_TOKEN: return c->token != NULL;
    case NEED_PASSWORD: return c->password != NULL;
    case NEED_PASSWORD_CB: return c->password != NULL && c->cb_type != NULL && c->cb_data != NULL;
    }
  return FALSE;
}

const char *
pst_sasl_choose (const char *list, const PstSaslCredentials *creds, GError **error)
{
  for (guint i = 0; i < G_N_ELEMENTS (mechanisms); i++)
    if (offered (list, mechanisms[i].name) && can_use (mechanisms[i].need, creds)
        && pst_sasl_allowed (creds, mechanisms[i].name))
      return mechanisms[i].name;
  if (list == NULL || *list == '\0')
    g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                 "the server offers no authentication mechanism; cannot log in");
  else if (creds->allowed != NULL)
    {
      g_autofree char *mine = g_strjoinv (" ", creds->allowed);
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                   "no authentication mechanism in common: the server offers %s; this account "
                   "allows %s", list, mine);
    }
  else
    g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                 "no authentication mechanism in common: the server offers %s; this account can "
                 "use %s", list,
                 creds->client_cert ? "EXTERNAL (client certificate)"
                 : creds->token ? "OAUTHBEARER or XOAUTH2 (token)"
                                : "SCRAM-SHA-256(-PLUS), PLAIN or LOGIN (password)");
  return NULL;
}

PstSasl *
pst_sasl_new (const char *mech, const PstSaslCredentials *creds, GError **error)
{
  g_autoptr (PstSasl) s = g_new0 (PstSasl, 1);
  Gsasl *ctx;
  int rc;

  s->mech = g_ascii_strup (mech, -1);
  s->creds = pst_sasl_credentials_copy (creds);
  if (strcmp (s->mech, "XOAUTH2") == 0)
    s->kind = MECH_XOAUTH2;
  else if (strcmp (s->mech, "OAUTHBEARER") == 0)
    s->kind = MECH_OAUTHBEARER;
  else
    {
      s->kind = MECH_GSASL;
      if ((ctx = gsasl_context (error)) == NULL)
        return NULL;
      rc = gsasl_client_start (ctx, s->mech, &s->session);
      if (rc != GSASL_OK)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "SASL %s: %s", s->mech,
                       gsasl_strerror (rc));
          return NULL;
        }
      if (creds->user)
        gsasl_property_set (s->session, GSASL_AUTHID, creds->user);
      if (creds->password)
        gsasl_property_set (s->session, GSASL_PASSWORD, creds->password);
      /* Only the -PLUS variants take the binding: libgsasl 2.2 fails a
       * plain SCRAM client that has one (it would send the "y" flag). */
      if (g_str_has_suffix (s->mech, "-PLUS") && creds->cb_type != NULL && creds->cb_data != NULL)
        {
          g_autofree char *b64 = g_base64_encode (g_bytes_get_data (creds->cb_data, NULL),
                                                 g_bytes_get_size (creds->cb_data));
          gsasl_property_set (s->session,
                              strcmp (creds->cb_type, "tls-exporter") == 0 ? GSASL_CB_TLS_EXPORTER
                                                                           : GSASL_CB_TLS_UNIQUE,
                              b64);
        }
    }
  return g_steal_pointer (&s);
}

void
pst_sasl_free (PstSasl *s)
{
  if (s == NULL)
    return;
  if (s->session != NULL)
    gsasl_finish (s->session);
  pst_sasl_credentials_free (s->creds);
  g_free (s->mech);
  g_free (s);
}

gboolean
pst_sasl_client_first (PstSasl *s)
{
  return strcmp (s->mech, "LOGIN") != 0;
}

const char *
pst_sasl_mechanism (PstSasl *s)
{
  return s->mech;
}

gboolean
pst_sasl_complete (PstSasl *s)
{
  return s->complete;
}

/* The one message of XOAUTH2 or OAUTHBEARER, base64. */
static char *
oauth_message (PstSasl *s)
{
  g_autoptr (GString) m = g_string_new (NULL);
  char *b64;

  if (s->kind == MECH_XOAUTH2)
    g_string_append_printf (m, "user=%s\001auth=Bearer %s\001\001", s->creds->user,
                            s->creds->token);
  else
    {
      /* RFC 7628 §3.1: gs2 header with the authzid, then key=value pairs.
       * ',' and '=' in the authzid are escaped as RFC 5801 says. */
      g_autoptr (GString) authz = g_string_new (NULL);

      for (const char *p = s->creds->user; *p; p++)
        if (*p == ',')
          g_string_append (authz, "=2C");
        else if (*p == '=')
          g_string_append (authz, "=3D");
        else
          g_string_append_c (authz, *p);
      g_string_append_printf (m, "n,a=%s,\001", authz->str);
      if (s->creds->host)
        g_string_append_printf (m, "host=%s\001port=%u\001", s->creds->host, s->creds->port);
      g_string_append_printf (m, "auth=Bearer %s\001\001", s->creds->token);
    }
  b64 = g_base64_encode ((const guchar *) m->str, m->len);
  explicit_bzero (m->str, m->len);
  return b64;
}

PstSaslStep
pst_sasl_step (PstSasl *s, const char *challenge, char **response_out, GError **error)
{
  int rc;
  char *out = NULL;

  *response_out = NULL;
  s->steps++;
  if (s->kind != MECH_GSASL)
    {
      if (challenge == NULL && s->steps == 1)
        {
          *response_out = oauth_message (s);
          s->complete = TRUE;
          return PST_SASL_DONE;
        }
      /* A challenge after the token is the server's error (JSON); the
       * client answers so that the server can send its failure reply. */
      s->failed_challenge = TRUE;
      s->complete = FALSE;
      *response_out = g_strdup (s->kind == MECH_XOAUTH2 ? "" : "AQ==");
      return PST_SASL_DONE;
    }
  rc = gsasl_step64 (s->session, challenge ? challenge : "", &out);
  if (rc == GSASL_OK || rc == GSASL_NEEDS_MORE)
    {
      *response_out = g_strdup (out ? out : "");
      if (out)
        explicit_bzero (out, strlen (out));
      gsasl_free (out);
      s->complete = rc == GSASL_OK;
      return rc == GSASL_OK ? PST_SASL_DONE : PST_SASL_CONTINUE;
    }
  gsasl_free (out);
  {
    /* SCRAM's server-final "e=..." (RFC 5802 §7) is a refusal, not a fault. */
    gsize n = 0;
    g_autofree guchar *raw = challenge ? g_base64_decode (challenge, &n) : NULL;
    g_autofree char *text = raw ? g_strndup ((const char *) raw, n) : NULL;

    if (text != NULL && g_str_has_prefix (text, "e="))
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                   "authentication failed (%s): the server refused: %s", s->mech, text + 2);
    else if (rc == GSASL_AUTHENTICATION_ERROR)
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                   "authentication failed (%s): the server did not prove it knows the password "
                   "(wrong password, or not the real server)", s->mech);
    else
      g_set_error (error, PST_ERROR, PST_ERROR_NETWORK,
                   "SASL %s: the server's message is not valid: %s", s->mech, gsasl_strerror (rc));
  }
  return PST_SASL_ERROR;
}

char *
pst_sasl_auth_command (PstSasl *s, GError **error)
{
  GString *line = g_string_new ("AUTH ");

  g_string_append (line, s->mech);
  if (pst_sasl_client_first (s))
    {
      char *response = NULL;

      if (pst_sasl_step (s, NULL, &response, error) == PST_SASL_ERROR)
        {
          g_string_free (line, TRUE);
          return NULL;
        }
      /* RFC 4954 §4 and RFC 5034 §4: "=" is an empty initial response. */
      g_string_append_c (line, ' ');
      g_string_append (line, *response ? response : "=");
      explicit_bzero (response, strlen (response));
      g_free (response);
    }
  g_string_append (line, "\r\n");
  return g_string_free (line, FALSE);
}
