/* methods-reply.c — reply and forward: drafts made from a stored message,
 * which only the agent can decrypt.  The message is opened as show and
 * export open it (open.h: quarantined refused, analysed by the worker,
 * which alone parses it); the draft is written by mime/compose.h and goes
 * to the client's descriptor, as export's message does.  Nothing is sent:
 * the client `send`s the draft, and the policy keeps an answer to
 * encrypted mail encrypted (crypto/policy.h), recognising it by the
 * In-Reply-To and References written here. */
#include <glib/gi18n-lib.h>
#include <string.h>

#include "handlers.h"
#include "mime/compose.h"
#include "open.h"
#include "reader.h"
#include "store/keys.h"
#include "util/addr.h"
#include "util/error.h"

/* An opened message and the account that received it. */
typedef struct {
  gint64 id;
  PstMessageInfo *info;
  GBytes *plain;
  PstStatus *status;
  PstView *view;
  PstAccount *account;
} Original;

static void
original_clear (Original *o)
{
  g_clear_pointer (&o->info, pst_message_info_free);
  g_clear_pointer (&o->plain, g_bytes_unref);
  g_clear_pointer (&o->status, pst_status_free);
  g_clear_pointer (&o->view, pst_view_free);
  g_clear_pointer (&o->account, pst_account_free);
}

/* Opens message @id for a draft: refused when its content is withheld (it
 * could not be decrypted, or its integrity is missing), as export is.
 * Nothing is left in @o on failure. */
static gboolean
original_open (PstCall *call, gint64 id, Original *o, GError **error)
{
  memset (o, 0, sizeof *o);
  o->id = id;
  if (!pst_open_message (call->agent, id, -1, &o->info, &o->plain, &o->status, &o->view, error))
    goto fail;
  if (pst_status_withholds_content (o->status))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_CRYPTO,
                   _("message %lld cannot be decrypted%s; no draft made"), (long long) id,
                   o->status->integrity == PST_INTEGRITY_MISSING
                     ? _(" with integrity protection") : "");
      goto fail;
    }
  if (!(o->account = pst_agent_get_account (call->agent, o->info->account, error)))
    {
      g_prefix_error (error, _("message %lld: the account that received it: "), (long long) id);
      goto fail;
    }
  return TRUE;
fail:
  original_clear (o);
  return FALSE;
}

/* A draft answering or forwarding mail that arrived encrypted must be known
 * as such when it is sent, or the policy lets it go out in the clear under
 * auto (crypto/policy.h: replies stay encrypted): the Message-ID it names
 * (@carried, its In-Reply-To or its References' first) is noted as
 * encrypted now — the analysis noted the one it saw, and a message stored
 * before that was not noted at all.  An encrypted original whose
 * Message-ID cannot be carried (none, or malformed: a sender or a provider
 * chose it) gives no draft rather than one that would leak its text. */
static gboolean
carries_encrypted (PstCall *call, const Original *o, const char *carried, GError **error)
{
  g_autofree char *first = NULL;

  if (o->status->decryption == PST_DECRYPTION_NOT_ENCRYPTED)
    return TRUE;
  if (carried == NULL || *carried == '\0')
    {
      g_set_error (error, PST_ERROR, PST_ERROR_POLICY,
                   _("message %lld arrived encrypted, but it has no Message-ID a draft can name, "
                     "so its answer could not be kept encrypted; no draft made"), (long long) o->id);
      return FALSE;
    }
  first = g_strndup (carried, strcspn (carried, " "));
  return pst_store_note_encrypted_message (call->agent->store, first,
                                           g_get_real_time () / G_USEC_PER_SEC, error);
}

/* @text (a header value as the worker decoded it, which RFC 2047 may have
 * given line breaks and other controls) on one line: each control a
 * space, so that a Subject becomes no header injection (compose.h would
 * refuse the draft) and a name no line of its own.  Transfer full. */
static char *
one_line (const char *text)
{
  char *s = g_strdup (text);

  for (char *p = s; *p != '\0'; p++)
    if ((guchar) *p < 0x20 || *p == 0x7f)
      *p = ' ';
  return s;
}

/* The display name of @from ("Name <addr>" or "addr"), else the address,
 * else "someone".  Transfer full. */
static char *
sender_name (const char *from)
{
  const char *lt = from != NULL ? strrchr (from, '<') : NULL;
  g_autofree char *name = NULL;

  if (from == NULL)
    return g_strdup (_("someone"));
  if (lt == NULL)
    return g_strstrip (g_strdup (from));
  name = g_strstrip (g_strndup (from, (gsize) (lt - from)));
  if (name[0] == '"' && strlen (name) >= 2 && name[strlen (name) - 1] == '"')
    {
      name[strlen (name) - 1] = '\0';
      return g_strdup (name + 1);
    }
  if (*name != '\0')
    return g_steal_pointer (&name);
  name = pst_addr_extract (from);
  return name != NULL ? g_steal_pointer (&name) : g_strdup (_("someone"));
}

/* @subject with @prefix ("Re:", "Fwd:") once: those it already starts
 * with (any case, any number) are not repeated.  Transfer full. */
static char *
prefixed_subject (const char *prefix, const char *subject)
{
  g_autofree char *line = one_line (subject != NULL ? subject : "");
  const char *s = line;
  gsize n = strlen (prefix);

  for (;;)
    {
      while (*s == ' ' || *s == '\t')
        s++;
      if (g_ascii_strncasecmp (s, prefix, n) != 0)
        break;
      s += n;
    }
  return g_strdup_printf ("%s %s", prefix, s);
}

/* The quoted text of a reply: "On DATE, NAME wrote:", then each line of
 * @body after "> " (">" alone on an empty line).  Transfer full. */
static char *
quoted_body (const PstView *view)
{
  g_autofree char *raw_name = sender_name (view->from), *name = one_line (raw_name);
  g_autofree char *date = view->date != NULL ? one_line (view->date) : NULL;
  g_auto (GStrv) lines = g_strsplit (view->body_text != NULL ? view->body_text : "", "\n", -1);
  GString *s = g_string_new ("\n\n");
  guint n = g_strv_length (lines);

  /* the text's last line end makes no line of its own */
  if (n > 0 && lines[n - 1][0] == '\0')
    n--;
  if (date != NULL)
    g_string_append_printf (s, _("On %s, %s wrote:"), date, name);
  else
    g_string_append_printf (s, _("%s wrote:"), name);
  g_string_append_c (s, '\n');
  for (guint i = 0; i < n; i++)
    {
      g_strchomp (lines[i]);
      g_string_append (s, lines[i][0] != '\0' ? "> " : ">");
      g_string_append (s, lines[i]);
      g_string_append_c (s, '\n');
    }
  return g_string_free (s, FALSE);
}

/* Whether @addr is one of the user's own (any account's address). */
static gboolean
is_own (PstAgent *agent, const char *addr)
{
  gboolean own = FALSE;
  GPtrArray *accounts;

  g_mutex_lock (&agent->config_lock);
  accounts = pst_config_get_accounts (agent->config);
  for (guint i = 0; i < accounts->len && !own; i++)
    own = pst_addr_equal (addr, ((PstAccount *) g_ptr_array_index (accounts, i))->address);
  g_mutex_unlock (&agent->config_lock);
  return own;
}

/* Appends the addresses of @list to @out (NULL-terminated) unless they are
 * there, or in @also, or (when @drop_own) the user's own. */
static void
add_addresses (PstAgent *agent, GPtrArray *out, char **list, GPtrArray *also, gboolean drop_own)
{
  for (char **a = list; a != NULL && *a != NULL; a++)
    if (!pst_addr_in_list (*a, (const char *const *) out->pdata)
        && (also == NULL || !pst_addr_in_list (*a, (const char *const *) also->pdata))
        && !(drop_own && is_own (agent, *a)))
      g_ptr_array_insert (out, out->len - 1, g_strdup (*a));
}

/* Whether @w is a Message-ID as compose.h writes one: "<left@right>" of
 * printable ASCII. */
static gboolean
is_msg_id (const char *w, gsize len)
{
  const char *at = memchr (w, '@', len);

  if (len < 5 || len > 250 || w[0] != '<' || w[len - 1] != '>' || at == NULL || at == w + 1
      || at == w + len - 2)
    return FALSE;
  for (gsize i = 1; i + 1 < len; i++)
    if ((guchar) w[i] <= 0x20 || (guchar) w[i] >= 0x7f || w[i] == '<' || w[i] == '>')
      return FALSE;
  return TRUE;
}

/* The Message-IDs of @text (the original's Message-ID or References, as
 * the sender wrote them), space-separated; NULL when there is none: a
 * malformed one is left out rather than refusing the draft.  Transfer
 * full. */
static char *
msg_ids (const char *text)
{
  g_auto (GStrv) words = g_strsplit_set (text != NULL ? text : "", " \t", -1);
  GString *s = g_string_new (NULL);

  for (char **w = words; *w != NULL; w++)
    if (is_msg_id (*w, strlen (*w)))
      g_string_append_printf (s, "%s%s", s->len > 0 ? " " : "", *w);
  if (s->len == 0)
    {
      g_string_free (s, TRUE);
      return NULL;
    }
  return g_string_free (s, FALSE);
}

static GPtrArray *
strv_new (void)
{
  GPtrArray *a = g_ptr_array_new_with_free_func (g_free);

  g_ptr_array_add (a, NULL);
  return a;
}

/* Writes @draft to descriptor @fd; the result names the draft's
 * recipients. */
static JsonObject *
write_draft (int fd, GBytes *draft, GPtrArray *to, GPtrArray *cc, GError **error)
{
  gsize len = 0;
  const guint8 *data = g_bytes_get_data (draft, &len);
  JsonObject *r;

  if (!pst_fd_write_all (fd, data, len, error))
    return NULL;
  r = json_object_new ();
  json_object_set_array_member (r, "to", pst_json_strv ((char **) to->pdata));
  json_object_set_array_member (r, "cc", pst_json_strv (cc != NULL ? (char **) cc->pdata : NULL));
  return r;
}

/* reply {id, fd, all?}: a draft answering message @id, written to fd
 * (DESIGN.md §6 `reply`).  Result {to, cc}. */
JsonObject *
pst_method_reply (PstCall *call, GError **error)
{
  gint64 id;
  int fd;
  gboolean all = FALSE;
  Original o;
  g_autoptr (GPtrArray) to = strv_new ();
  g_autoptr (GPtrArray) cc = strv_new ();
  g_autofree char *subject = NULL, *body = NULL, *mid = NULL, *refs = NULL;
  g_autoptr (GBytes) draft = NULL;
  JsonObject *r = NULL;

  if (!pst_rpc_get_int (call->params, "id", TRUE, 0, &id, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0
      || !pst_rpc_get_bool (call->params, "all", FALSE, &all, error)
      || !original_open (call, id, &o, error))
    return NULL;
  add_addresses (call->agent, to, o.view->reply_addresses, NULL, FALSE);
  if (all)
    add_addresses (call->agent, cc, o.view->to_cc_addresses, to, TRUE);
  if (to->len == 1 && cc->len == 1)
    g_set_error (error, PST_ERROR, PST_ERROR_FAILED,
                 _("message %lld has no sender to reply to (no From or Reply-To)"),
                 (long long) id);
  else
    {
      g_autofree char *mids = msg_ids (o.view->message_id);
      PstComposeFields f = {
        .from = o.account->address, .to = (const char *const *) to->pdata,
        .cc = (const char *const *) cc->pdata,
        .subject = subject = prefixed_subject ("Re:", o.view->subject),
        .body = body = quoted_body (o.view),
        /* one Message-ID answered (the first, when a sender wrote several) */
        .in_reply_to = mid = mids != NULL ? g_strndup (mids, strcspn (mids, " ")) : NULL,
        .references = refs = msg_ids (o.view->references),
      };

      if (!carries_encrypted (call, &o, f.in_reply_to, error))
        ;
      else if ((draft = pst_compose_message (&f, error)) != NULL)
        r = write_draft (fd, draft, to, cc, error);
      else
        g_prefix_error (error, _("message %lld: no reply made: "), (long long) id);
    }
  original_clear (&o);
  return r;
}

/* forward {id, fd, to}: a draft forwarding message @id, decrypted, as a
 * message/rfc822 part (its attachments in it), written to fd (DESIGN.md §6
 * `forward`).  Its References name the forwarded message, so that the
 * policy knows a forward of encrypted mail.  Result {to, cc}. */
JsonObject *
pst_method_forward (PstCall *call, GError **error)
{
  gint64 id;
  int fd;
  g_auto (GStrv) given = NULL;
  GError *local = NULL;
  Original o;
  g_autoptr (GPtrArray) to = strv_new ();
  g_autofree char *subject = NULL, *body = NULL, *name = NULL, *mid = NULL;
  g_autoptr (GBytes) draft = NULL;
  JsonObject *r = NULL;

  if (!pst_rpc_get_int (call->params, "id", TRUE, 0, &id, error)
      || (fd = pst_call_get_fd (call, "fd", TRUE, error)) < 0)
    return NULL;
  given = pst_call_get_strv (call->params, "to", &local);
  if (local != NULL || given == NULL || given[0] == NULL)
    {
      if (local != NULL)
        g_propagate_error (error, local);
      else
        g_set_error (error, PST_ERROR, PST_ERROR_USAGE,
                     _("parameter 'to' must be a list of one or more addresses"));
      return NULL;
    }
  for (char **a = given; *a != NULL; a++)
    g_ptr_array_insert (to, to->len - 1, g_strdup (*a));
  if (!original_open (call, id, &o, error))
    return NULL;
  /* Nothing decrypted: the message as stored is what was read, and what
   * the forward attaches. */
  if (o.plain == NULL && !pst_reader_arrived (call->agent, id, &o.plain, error))
    {
      original_clear (&o);
      return NULL;
    }
  {
    g_autofree char *raw = sender_name (o.view->from);
    name = one_line (raw);
  }
  body = g_strdup_printf (_("Forwarded message from %s, attached.\n"), name);
  {
    PstComposeFields f = {
      .from = o.account->address, .to = (const char *const *) to->pdata,
      .subject = subject = prefixed_subject ("Fwd:", o.view->subject), .body = body,
      .references = mid = msg_ids (o.view->message_id), .forward = o.plain,
    };

    if (!carries_encrypted (call, &o, f.references, error))
      ;
    else if ((draft = pst_compose_message (&f, error)) != NULL)
      r = write_draft (fd, draft, to, NULL, error);
    else
      g_prefix_error (error, _("message %lld: nothing forwarded: "), (long long) id);
  }
  original_clear (&o);
  return r;
}
