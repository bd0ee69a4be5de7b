/* sendmail.c — `postern sendmail`: the command line of sendmail and msmtp
 * in front of send (DESIGN.md §6, §14), for the programs that call
 * sendmail (neomutt, git send-email, cron).  The message goes through the
 * agent's send, with the recipients as its envelope; then this waits for
 * the server, as msmtp does, and answers in sysexits.h's codes.
 *
 * The options are parsed here by hand, not with GOption: sendmail's take
 * their value glued or apart (-fADDR, -f ADDR) and some are words that
 * begin with a letter (-oi, -oem, -bm, -B8BITMIME), which GOption cannot
 * read; and options it does not know must be ignored, not refused. */
#define _GNU_SOURCE /* memfd_create */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sysexits.h>
#include <unistd.h>

#include "cli.h"
#include "sendmail.h"
#include "mime/header.h"
#include "util/addr.h"
#include "util/error.h"

/* As send's cap (agent/methods-send.c). */
#define MAX_MESSAGE (64u * 1024 * 1024)
/* How long to wait for the server before leaving the message to the
 * agent's outbox (EX_TEMPFAIL). */
#define WAIT_SECONDS 300

typedef struct {
  gboolean read_recipients;   /* -t */
  gboolean ignore_dots;       /* -i, -oi */
  char *from;                 /* -f, -r */
  char *name;                 /* -F */
  char *account;              /* --account */
  GPtrArray *recipients;      /* the arguments' addr-specs */
} Options;

static void
options_clear (Options *o)
{
  g_free (o->from);
  g_free (o->name);
  g_free (o->account);
  g_clear_pointer (&o->recipients, g_ptr_array_unref);
}

/* Exit codes of sysexits.h for the PST_ERROR codes the agent answers with. */
static int
sysexit_of (int code)
{
  switch (code)
    {
    case PST_ERROR_USAGE: return EX_USAGE;
    case PST_ERROR_POLICY: return EX_NOPERM;
    case PST_ERROR_INFECTED: return EX_DATAERR;
    case PST_ERROR_NETWORK: return EX_TEMPFAIL;
    case PST_ERROR_AGENT: return EX_UNAVAILABLE;
    case PST_ERROR_CRYPTO: return EX_SOFTWARE;
    case PST_ERROR_FAILED:
    default: return EX_DATAERR;
    }
}

static int
fail (int code, const char *why)
{
  g_autofree char *safe = pst_cli_safe (why);

  fprintf (stderr, "postern: sendmail: %s\n", safe);
  return code;
}

/* The help, printed as every command's is: from a table of its options. */
static int
print_help (PstCli *cli, char *name)
{
  GOptionEntry entries[] = {
    { "read-recipients", 't', 0, G_OPTION_ARG_NONE, NULL,
      N_("Recipients from To, Cc and Bcc, and the arguments"), NULL },
    { "ignore-dots", 'i', 0, G_OPTION_ARG_NONE, NULL,
      N_("A line with a single dot does not end the message (also -oi)"), NULL },
    { "from", 'f', 0, G_OPTION_ARG_STRING, NULL,
      N_("The sender: chooses the account, and the From when there is none (also -r)"), "ADDR" },
    { "full-name", 'F', 0, G_OPTION_ARG_STRING, NULL,
      N_("The display name of a From that is added"), "NAME" },
    { "account", 0, 0, G_OPTION_ARG_STRING, NULL, N_("Send from this account"), "NAME" },
    G_OPTION_ENTRY_NULL,
  };
  char *words[] = { name, (char *) "--help", NULL };
  char **argv = words;
  int argc = 2, status = 0;

  pst_cli_parse (cli, entries, &argc, &argv, &status);
  return status;
}

/* Adds the addresses of recipient argument @arg ("a@b", "Name <a@b>",
 * several separated by commas). */
static gboolean
add_recipients (Options *o, const char *arg, int *exit_out)
{
  g_auto (GStrv) parts = g_strsplit (arg, ",", -1);

  for (char **p = parts; *p != NULL; p++)
    {
      g_autofree char *spec = NULL;

      if (*g_strstrip (*p) == '\0')
        continue;
      if ((spec = pst_addr_extract (*p)) == NULL)
        {
          g_autofree char *why = g_strdup_printf (_("%s: not an address (local@domain)"), *p);

          *exit_out = fail (EX_NOUSER, why);
          return FALSE;
        }
      g_ptr_array_add (o->recipients, g_steal_pointer (&spec));
    }
  return TRUE;
}

/* The value of option -@letter: glued to it (-fADDR) or the next argument. */
static const char *
value_of (int argc, char **argv, int *i, const char *glued, int *exit_out)
{
  if (*glued != '\0')
    return glued;
  if (*i + 1 < argc)
    return argv[++*i];
  {
    g_autofree char *why = g_strdup_printf (_("%s needs a value"), argv[*i]);
    *exit_out = fail (EX_USAGE, why);
  }
  return NULL;
}

/* Whether @arg is a hop count (digits), the value of -h. */
static gboolean
is_number (const char *arg)
{
  if (arg == NULL || *arg == '\0')
    return FALSE;
  for (; *arg; arg++)
    if (!g_ascii_isdigit (*arg))
      return FALSE;
  return TRUE;
}

/* One single-dash option at argv[*i]; FALSE with *exit_out set to stop. */
static gboolean
short_option (Options *o, int argc, char **argv, int *i, int *exit_out)
{
  const char *arg = argv[*i], *glued = arg + 2;
  const char *v;

  /* Flags, alone or together (-ti). */
  if (strspn (arg + 1, "tiGmnUv") == strlen (arg + 1))
    {
      o->read_recipients = o->read_recipients || strchr (arg, 't') != NULL;
      o->ignore_dots = o->ignore_dots || strchr (arg, 'i') != NULL;
      return TRUE;
    }
  switch (arg[1])
    {
    case 'o':
      /* -oi: dots; -oem, -odi, -oX…: sendmail's settings, ignored. */
      if (strcmp (arg, "-oi") == 0)
        o->ignore_dots = TRUE;
      return TRUE;
    case 'f':
    case 'r':
      if (!(v = value_of (argc, argv, i, glued, exit_out)))
        return FALSE;
      g_free (o->from);
      o->from = g_strdup (v);
      return TRUE;
    case 'F':
      if (!(v = value_of (argc, argv, i, glued, exit_out)))
        return FALSE;
      g_free (o->name);
      o->name = g_strdup (v);
      return TRUE;
    case 'B': case 'L': case 'N': case 'O': case 'R': case 'X':
      return value_of (argc, argv, i, glued, exit_out) != NULL;
    case 'h':
      /* -h N (a hop count) is ignored; -h alone was help (parse_options). */
      return value_of (argc, argv, i, glued, exit_out) != NULL;
    case 'b':
      if (strcmp (arg, "-bm") == 0)
        return TRUE;
      *exit_out = fail (EX_USAGE, _("only sending mail (-bm) is supported: postern sendmail "
                                    "runs no daemon, queue, alias database or SMTP session"));
      return FALSE;
    case 'q':
      *exit_out = fail (EX_USAGE, _("-q: postern sendmail keeps no queue of its own "
                                    "(see postern outbox)"));
      return FALSE;
    default:
      {
        g_autofree char *why = g_strdup_printf (_("%s: unknown option (see postern sendmail "
                                                  "--help)"), arg);
        *exit_out = fail (EX_USAGE, why);
      }
      return FALSE;
    }
}

/* A double-dash option at argv[*i] other than --help and --json. */
static gboolean
long_option (Options *o, int argc, char **argv, int *i, int *exit_out)
{
  static const char *const with_value[] = { "--from", "--full-name", "--account", NULL };
  const char *arg = argv[*i];
  const char *eq = strchr (arg, '=');
  g_autofree char *key = eq ? g_strndup (arg, (gsize) (eq - arg)) : g_strdup (arg);
  const char *v = NULL;

  if (strcmp (key, "--read-recipients") == 0 && eq == NULL)
    return o->read_recipients = TRUE;
  if (strcmp (key, "--ignore-dots") == 0 && eq == NULL)
    return o->ignore_dots = TRUE;
  if (g_strv_contains (with_value, key))
    {
      if (!(v = eq ? eq + 1 : (*i + 1 < argc ? argv[++*i] : NULL)))
        {
          g_autofree char *why = g_strdup_printf (_("%s needs a value"), key);
          *exit_out = fail (EX_USAGE, why);
          return FALSE;
        }
      char **slot = strcmp (key, "--from") == 0 ? &o->from
                    : strcmp (key, "--full-name") == 0 ? &o->name : &o->account;
      g_free (*slot);
      *slot = g_strdup (v);
      return TRUE;
    }
  {
    g_autofree char *why = g_strdup_printf (_("%s: unknown option (see postern sendmail "
                                              "--help)"), arg);
    *exit_out = fail (EX_USAGE, why);
  }
  return FALSE;
}

/* Parses sendmail's command line into @o.  FALSE when it must stop, with
 * the exit status in @exit_out (0 after --help). */
static gboolean
parse_options (PstCli *cli, int argc, char **argv, Options *o, int *exit_out)
{
  gboolean options = TRUE;

  /* Help first, wherever it is among the options, and before anything is
   * done; -h followed by a number is sendmail's hop count. */
  for (int i = 1; i < argc && strcmp (argv[i], "--") != 0; i++)
    if (strcmp (argv[i], "--help") == 0
        || (strcmp (argv[i], "-h") == 0 && !is_number (i + 1 < argc ? argv[i + 1] : NULL)))
      {
        *exit_out = print_help (cli, argv[0]);
        return FALSE;
      }
  o->recipients = g_ptr_array_new_with_free_func (g_free);
  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];

      if (!options || arg[0] != '-' || arg[1] == '\0')
        {
          if (!add_recipients (o, arg, exit_out))
            return FALSE;
        }
      else if (strcmp (arg, "--") == 0)
        options = FALSE;
      else if (strcmp (arg, "--json") == 0)
        cli->json = TRUE;
      else if (arg[1] == '-' ? !long_option (o, argc, argv, &i, exit_out)
                             : !short_option (o, argc, argv, &i, exit_out))
        return FALSE;
    }
  return TRUE;
}

/* The account to send from (DESIGN.md §14): --account, else the one whose
 * address is -f, else the From's, else the only one.  Transfer full, or
 * NULL with the reason printed and *exit_out EX_NOUSER. */
static char *
choose_account (PstRpcClient *client, const Options *o, const char *from_header,
                char **address_out, int *exit_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (JsonObject) r = pst_rpc_client_call (client, "account.list", NULL, NULL, 0, &error);
  g_autofree char *f = o->from ? pst_addr_extract (o->from) : NULL;
  const char *wanted[] = { f, from_header };
  JsonArray *accounts;
  guint n;

  if (r == NULL)
    {
      *exit_out = sysexit_of (pst_cli_fail ("sendmail", error));
      return NULL;
    }
  accounts = json_object_get_array_member (r, "accounts");
  n = accounts ? json_array_get_length (accounts) : 0;
  for (guint w = 0; w < G_N_ELEMENTS (wanted) + 1; w++)
    for (guint i = 0; i < n; i++)
      {
        JsonObject *a = json_array_get_object_element (accounts, i);
        const char *name = json_object_get_string_member_with_default (a, "name", "");
        const char *address = json_object_get_string_member_with_default (a, "address", "");
        gboolean match;

        if (o->account != NULL)
          match = strcmp (name, o->account) == 0;
        else if (w < G_N_ELEMENTS (wanted))
          match = pst_addr_equal (address, wanted[w]);
        else
          match = n == 1;
        if (match)
          {
            *address_out = g_strdup (address);
            return g_strdup (name);
          }
      }
  {
    g_autofree char *why = NULL;

    if (o->account != NULL)
      why = g_strdup_printf (_("no account named %s"), o->account);
    else if (n == 0)
      why = g_strdup (_("no account is set up (postern account add)"));
    else if (f == NULL && from_header == NULL)
      why = g_strdup (_("there are several accounts, and neither -f nor a From says which: "
                        "give --account NAME or -f ADDR"));
    else
      why = g_strdup_printf (_("no account has the address %s: give --account NAME or -f "
                               "ADDR"), f ? f : from_header);
    *exit_out = fail (EX_NOUSER, why);
  }
  return NULL;
}

/* A descriptor that reads @message from its start. */
static int
message_fd (GBytes *message, GError **error)
{
  gsize len;
  const char *data = g_bytes_get_data (message, &len);
  int fd = memfd_create ("postern-sendmail", MFD_CLOEXEC);

  if (fd < 0)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "memfd_create: %s", g_strerror (errno));
      return -1;
    }
  for (gsize off = 0; off < len;)
    {
      ssize_t n = write (fd, data + off, len - off);

      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_FAILED, "memfd: %s", g_strerror (errno));
          close (fd);
          return -1;
        }
      off += (gsize) n;
    }
  lseek (fd, 0, SEEK_SET);
  return fd;
}

/* Whether @h has a To, Cc or Bcc field (which -t takes). */
static gboolean
has_recipient_field (const PstSendmailHeader *h)
{
  for (guint i = 0; i < h->fields->len; i++)
    {
      const char *f = g_ptr_array_index (h->fields, i);

      if (pst_mime_field_is (f, "To") || pst_mime_field_is (f, "Cc") || pst_mime_field_is (f, "Bcc"))
        return TRUE;
    }
  return FALSE;
}

/* The addresses of @h's header section, as the agent parses them
 * (message.addresses): this process does not load libetpan.  FALSE with the
 * reason printed and *@exit_out set. */
static gboolean
read_addresses (PstRpcClient *client, GBytes *input, PstSendmailHeader *h, int *exit_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) section = NULL;
  g_autoptr (JsonObject) r = NULL;
  g_autoptr (GPtrArray) recipients = g_ptr_array_new_with_free_func (g_free);
  JsonArray *list;
  JsonObject *params;
  int fd;

  if (h->fields->len == 0)
    return TRUE;   /* no header section: no addresses */
  section = g_bytes_new_from_bytes (input, 0, h->header_len);
  if ((fd = message_fd (section, &error)) < 0)
    {
      *exit_out = fail (EX_OSERR, error->message);
      return FALSE;
    }
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  r = pst_rpc_client_call (client, "message.addresses", params, &fd, 1, &error);
  close (fd);
  /* An agent started before this postern was installed: the mail is not
   * refused, the mail program is to try again once the agent is restarted.
   * (The agent's words for it, "unknown method 'NAME'", are not
   * translated.) */
  if (r == NULL && g_error_matches (error, PST_ERROR, PST_ERROR_USAGE)
      && g_str_has_prefix (error->message, "unknown method"))
    {
      *exit_out = fail (EX_TEMPFAIL, _("the running agent is older than this postern and cannot "
                                       "read the message's addresses: restart it (postern agent "
                                       "stop; postern agent start)"));
      return FALSE;
    }
  if (r == NULL)
    {
      *exit_out = sysexit_of (pst_cli_fail ("sendmail", error));
      return FALSE;
    }
  list = json_object_get_array_member (r, "recipients");
  for (guint i = 0; list != NULL && i < json_array_get_length (list); i++)
    {
      const char *a = json_array_get_string_element (list, i);

      if (a != NULL)
        g_ptr_array_add (recipients, g_strdup (a));
    }
  g_ptr_array_add (recipients, NULL);
  if (!pst_sendmail_header_set_addresses (
        h, json_object_get_string_member_with_default (r, "from", NULL),
        json_object_get_string_member_with_default (r, "from_problem", NULL),
        (char **) recipients->pdata, &error))
    {
      *exit_out = sysexit_of (pst_cli_fail ("sendmail", error));
      return FALSE;
    }
  return TRUE;
}

/* Waits until the server took every copy @ids of the send result @r, or
 * refused one, or one waits to be tried again; sets "state" in @r to sent,
 * failed or queued.  Returns the exit status, the reason printed. */
static int
wait_for_server (PstRpcClient *client, JsonObject *r)
{
  JsonArray *ids = json_object_get_array_member (r, "ids");
  gint64 deadline = g_get_monotonic_time () + WAIT_SECONDS * G_USEC_PER_SEC;
  gulong pause = 50000;

  for (;;)
    {
      g_autoptr (GError) error = NULL;
      JsonObject *params = json_object_new ();
      g_autoptr (JsonObject) list = NULL;
      JsonArray *entries;
      guint sent = 0;
      int status = EX_OK;
      g_autofree char *why = NULL;

      /* Only these: an outbox keeps every message it sent. */
      json_object_set_array_member (params, "ids", json_array_ref (ids));
      if (!(list = pst_rpc_client_call (client, "outbox.list", params, NULL, 0, &error)))
        {
          json_object_set_string_member (r, "state", "queued");
          g_prefix_error (&error, _("the message is queued, but the agent did not say whether "
                                    "it was sent: "));
          pst_cli_fail ("sendmail", error);
          return EX_TEMPFAIL;
        }
      entries = json_object_get_array_member (list, "outbox");
      for (guint i = 0; i < json_array_get_length (ids); i++)
        {
          gint64 id = json_array_get_int_element (ids, i);

          for (guint j = 0; entries && j < json_array_get_length (entries); j++)
            {
              JsonObject *e = json_array_get_object_element (entries, j);
              const char *state = json_object_get_string_member_with_default (e, "state", "");
              const char *reply = NULL;

              if (json_object_get_int_member_with_default (e, "id", 0) != id)
                continue;
              if (json_object_has_member (e, "last_reply")
                  && !json_object_get_null_member (e, "last_reply"))
                reply = json_object_get_string_member (e, "last_reply");
              if (strcmp (state, "sent") == 0)
                sent++;
              else if ((strcmp (state, "failed") == 0 || strcmp (state, "cancelled") == 0)
                       && status != EX_UNAVAILABLE)
                {
                  status = EX_UNAVAILABLE;
                  g_free (why);
                  why = g_strdup_printf (_("the server refused message %lld: %s"),
                                         (long long) id, reply ? reply : state);
                }
              else if (strcmp (state, "queued") == 0
                       && json_object_get_int_member_with_default (e, "next_try", 0) > 0
                       && status == EX_OK)
                {
                  g_autofree char *when = pst_cli_format_time (
                    json_object_get_int_member_with_default (e, "next_try", 0));

                  status = EX_TEMPFAIL;
                  why = g_strdup_printf (_("message %lld is queued: it could not be sent yet "
                                           "(%s); the agent tries again at %s"),
                                         (long long) id,
                                         reply ? reply : _("the session with the server failed; "
                                                           "the agent's log says why"),
                                         when);
                }
            }
        }
      if (sent == json_array_get_length (ids) || status != EX_OK
          || g_get_monotonic_time () > deadline)
        {
          if (sent < json_array_get_length (ids) && status == EX_OK)
            {
              status = EX_TEMPFAIL;
              why = g_strdup_printf (_("message %lld is still in the outbox after %d seconds; "
                                       "the agent goes on sending it"),
                                     (long long) json_array_get_int_element (ids, 0),
                                     WAIT_SECONDS);
            }
          json_object_set_string_member (r, "state", status == EX_OK ? "sent"
                                                     : status == EX_TEMPFAIL ? "queued" : "failed");
          if (why != NULL)
            fail (status, why);
          return status;
        }
      g_usleep (pause);
      pause = MIN (pause * 2, 500000);
    }
}

/* The envelope: the arguments' recipients, and with -t the header's. */
static JsonArray *
envelope_of (const Options *o, const PstSendmailHeader *h)
{
  JsonArray *a = json_array_new ();
  g_autoptr (GPtrArray) seen = g_ptr_array_new ();

  g_ptr_array_add (seen, NULL);
  for (guint pass = 0; pass < 2; pass++)
    {
      char **list = pass == 0 ? (o->read_recipients ? h->recipients : NULL)
                              : (char **) o->recipients->pdata;
      guint n = pass == 0 ? (list ? g_strv_length (list) : 0) : o->recipients->len;

      for (guint i = 0; i < n; i++)
        if (!pst_addr_in_list (list[i], (const char *const *) seen->pdata))
          {
            g_ptr_array_insert (seen, (gint) seen->len - 1, list[i]);
            json_array_add_string_element (a, list[i]);
          }
    }
  return a;
}

int
pst_cli_cmd_sendmail (PstCli *cli, int argc, char **argv)
{
  Options o = { 0 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) input = NULL, message = NULL;
  g_autoptr (PstSendmailHeader) header = NULL;
  g_autoptr (PstRpcClient) client = NULL;
  g_autoptr (JsonObject) r = NULL;
  g_autofree char *account = NULL, *address = NULL;
  JsonArray *envelope = NULL;
  JsonObject *params;
  int status = EX_OK, fd;

  if (!parse_options (cli, argc, argv, &o, &status))
    goto out;
  if (o.from != NULL)
    {
      /* -f "Name <a@b>" or "a@b": its address, and nothing but an address
       * goes into the fields added (From, the Message-ID's domain). */
      g_autofree char *bare = pst_addr_extract (o.from);

      for (const char *p = bare; p && *p; p++)
        if ((guchar) *p < 0x21 || *p == 0x7f)
          g_clear_pointer (&bare, g_free);
      if (bare == NULL)
        {
          g_autofree char *shown = pst_cli_safe (o.from);
          g_autofree char *why = g_strdup_printf (_("-f: '%s' is not an address"), shown);

          status = fail (EX_USAGE, why);
          goto out;
        }
      g_free (o.from);
      o.from = g_steal_pointer (&bare);
    }
  if (!o.read_recipients && o.recipients->len == 0)
    {
      status = fail (EX_USAGE, _("no recipients: give them as arguments, or -t to take them "
                                 "from To, Cc and Bcc"));
      goto out;
    }
  if (!(input = pst_sendmail_read (stdin, o.ignore_dots, MAX_MESSAGE, &error))
      || !(header = pst_sendmail_header_read (input, &error)))
    {
      status = sysexit_of (pst_cli_fail ("sendmail", error));
      goto out;
    }
  /* -t and nothing to take: said before an agent is asked (or started). */
  if (o.recipients->len == 0 && !has_recipient_field (header))
    {
      status = fail (EX_USAGE, _("no recipients: the message has no To, Cc or Bcc, and no "
                                 "argument names one"));
      goto out;
    }
  if (!(client = pst_cli_connect (cli, TRUE, &error)))
    {
      status = sysexit_of (pst_cli_fail ("sendmail", error));
      goto out;
    }
  if (!read_addresses (client, input, header, &status))
    goto out;
  envelope = envelope_of (&o, header);
  if (json_array_get_length (envelope) == 0)
    {
      status = fail (EX_USAGE, _("no recipients: the message has no To, Cc or Bcc, and no "
                                 "argument names one"));
      goto out;
    }
  if (!(account = choose_account (client, &o, header->from, &address, &status)))
    goto out;
  if (!(message = pst_sendmail_complete (input, header, o.from ? o.from : address, o.name,
                                         &error)))
    {
      status = sysexit_of (pst_cli_fail ("sendmail", error));
      goto out;
    }
  if ((fd = message_fd (message, &error)) < 0)
    {
      status = fail (EX_OSERR, error->message);
      goto out;
    }
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  json_object_set_string_member (params, "account", account);
  json_object_set_array_member (params, "envelope", g_steal_pointer (&envelope));
  r = pst_rpc_client_call (client, "send", params, &fd, 1, &error);
  close (fd);
  if (r == NULL)
    {
      status = sysexit_of (pst_cli_fail ("sendmail", error));
      goto out;
    }
  if (!cli->json)
    pst_cli_send_warnings ("sendmail", r);
  status = wait_for_server (client, r);
  if (cli->json)
    pst_cli_print_json (r);
out:
  if (envelope != NULL)
    json_array_unref (envelope);
  options_clear (&o);
  return status;
}
