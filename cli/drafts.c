/* drafts.c — `postern draft save|list|show|send|delete`: messages being
 * written, kept by the agent encrypted to the account's own key. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "util/error.h"

/* @text as a draft id, or a usage error of @command. */
static gboolean
parse_draft_id (const char *command, const char *text, gint64 *id_out)
{
  guint64 v = 0;

  if (!g_ascii_string_to_unsigned (text, 10, 1, G_MAXINT64, &v, NULL))
    {
      g_autofree char *why = g_strdup_printf (_("'%s' is not a draft id (a number, as `draft list` "
                                                "shows)"), text);
      pst_cli_usage (command, why);
      return FALSE;
    }
  *id_out = (gint64) v;
  return TRUE;
}

/* The one draft ID of @argv (after the options), or a usage error. */
static gboolean
one_id (const char *command, int argc, char **argv, gint64 *id_out, int *status)
{
  *status = PST_ERROR_USAGE;
  if (argc != 2)
    {
      pst_cli_usage (command, _("give exactly one draft ID"));
      return FALSE;
    }
  return parse_draft_id (command, argv[1], id_out);
}

static int
draft_save (PstCli *cli, int argc, char **argv)
{
  g_autofree char *account = NULL, *id_text = NULL;
  GOptionEntry entries[] = {
    { "account", 0, 0, G_OPTION_ARG_STRING, &account,
      N_("The account it belongs to (default: the one its From is)"), "NAME" },
    { "id", 0, 0, G_OPTION_ARG_STRING, &id_text, N_("Replace draft ID instead of adding one"), "ID" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  gint64 id = 0;
  int fd, status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc > 2)
    return pst_cli_usage ("draft save", _("give at most one FILE"));
  if (id_text != NULL && !parse_draft_id ("draft save", id_text, &id))
    return PST_ERROR_USAGE;
  if (argc == 2 && strcmp (argv[1], "-") != 0)
    {
      fd = open (argv[1], O_RDONLY | O_CLOEXEC);
      if (fd < 0)
        {
          g_autofree char *name = pst_cli_safe (argv[1]);
          fprintf (stderr, "postern: draft save: %s: %s\n", name, g_strerror (errno));
          return PST_ERROR_FAILED;
        }
    }
  else
    fd = dup (STDIN_FILENO);
  params = json_object_new ();
  json_object_set_int_member (params, "fd", 0);
  if (account != NULL)
    json_object_set_string_member (params, "account", account);
  if (id > 0)
    json_object_set_int_member (params, "id", id);
  r = pst_cli_call (cli, "draft save", "drafts.save", params, &fd, 1, &status);
  close (fd);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      g_autofree char *acct = pst_cli_safe (json_object_get_string_member (r, "account"));
      printf (_("draft %lld saved (encrypted to the key of %s)\n"),
              (long long) json_object_get_int_member (r, "id"), acct);
    }
  json_object_unref (r);
  return 0;
}

static const char *
str_or_null (JsonObject *o, const char *name)
{
  return json_object_get_string_member_with_default (o, name, NULL);
}

static int
draft_list (PstCli *cli, int argc, char **argv)
{
  g_autofree char *account = NULL;
  GOptionEntry entries[] = {
    { "account", 0, 0, G_OPTION_ARG_STRING, &account, N_("Only this account"), "NAME" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  JsonArray *arr;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return pst_cli_usage ("draft list", _("takes --account NAME only"));
  params = json_object_new ();
  if (account != NULL)
    json_object_set_string_member (params, "account", account);
  r = pst_cli_call (cli, "draft list", "drafts.list", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    {
      pst_cli_print_json (r);
      json_object_unref (r);
      return 0;
    }
  arr = json_object_get_array_member (r, "drafts");
  if (json_array_get_length (arr) == 0)
    printf ("%s\n", _("no drafts"));
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *d = json_array_get_object_element (arr, i);
      g_autofree char *when = pst_cli_format_time (json_object_get_int_member (d, "updated_at"));
      g_autofree char *acct = pst_cli_column (str_or_null (d, "account"), 12);
      g_autofree char *to = pst_cli_column (str_or_null (d, "to"), 24);
      g_autofree char *subject = pst_cli_safe (str_or_null (d, "subject"));
      g_autofree char *err = pst_cli_safe (str_or_null (d, "error"));

      /* Recipients and Subject are the user's, but may quote a sender's. */
      printf ("%6" G_GINT64_FORMAT "  %s  %s  %s  %s\n", json_object_get_int_member (d, "id"), when,
              acct, to, str_or_null (d, "error") ? err : subject);
    }
  json_object_unref (r);
  return 0;
}

static int
draft_show (PstCli *cli, int argc, char **argv)
{
  g_autofree char *out = NULL;
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &out,
      N_("Write to FILE, which must not exist (default: standard output)"), "FILE" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  gint64 id;
  int status = 0, fd;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (!one_id ("draft show", argc, argv, &id, &status))
    return status;
  if (cli->json && out == NULL)
    return pst_cli_usage ("draft show", _("--json needs -o FILE: the draft goes to standard output "
                                          "otherwise"));
  /* The draft may quote what a sender wrote: not onto a terminal, as
   * reply and export refuse. */
  if ((fd = pst_cli_output_fd ("draft show", out, &status)) < 0)
    return status;
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  json_object_set_int_member (params, "fd", 0);
  r = pst_cli_call_to_file (cli, "draft show", "drafts.get", params, out, fd, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else if (out != NULL)
    printf (_("wrote draft %lld to %s\n"), (long long) id, out);
  json_object_unref (r);
  return 0;
}

static int
draft_send (PstCli *cli, int argc, char **argv)
{
  g_autofree char *encrypt = NULL, *scheme = NULL;
  gboolean sign = FALSE, no_sign = FALSE, wait = FALSE;
  GOptionEntry entries[] = {
    { "encrypt", 0, 0, G_OPTION_ARG_STRING, &encrypt, N_("always, auto or never"), "MODE" },
    { "sign", 0, 0, G_OPTION_ARG_NONE, &sign, N_("Sign (the default)"), NULL },
    { "no-sign", 0, 0, G_OPTION_ARG_NONE, &no_sign, N_("Do not sign"), NULL },
    { "scheme", 0, 0, G_OPTION_ARG_STRING, &scheme, N_("pgp or smime"), "SCHEME" },
    { "wait", 0, 0, G_OPTION_ARG_NONE, &wait, N_("Wait until the server accepted or refused it"), NULL },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  gint64 id;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (!one_id ("draft send", argc, argv, &id, &status))
    return status;
  params = json_object_new ();
  if (!pst_cli_send_settings ("draft send", params, NULL, encrypt, scheme, sign, no_sign))
    {
      json_object_unref (params);
      return PST_ERROR_USAGE;
    }
  json_object_set_int_member (params, "id", id);
  json_object_set_boolean_member (params, "wait", wait);
  r = pst_cli_call (cli, "draft send", "drafts.send", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      gboolean enc = json_object_get_boolean_member (r, "encrypted");
      gboolean sig = json_object_get_boolean_member (r, "signed");
      gboolean sent = g_strcmp0 (str_or_null (r, "state"), "sent") == 0;

      printf (_("draft %lld: message %lld %s (%s, %s)\n"), (long long) id,
              (long long) json_object_get_int_member (r, "id"), sent ? _("sent") : _("queued"),
              enc ? _("encrypted") : _("NOT encrypted"), sig ? _("signed") : _("not signed"));
      pst_cli_send_warnings ("draft send", r);
      if (!json_object_get_boolean_member_with_default (r, "draft_deleted", TRUE))
        fprintf (stderr, _("postern: draft send: the draft was sent but is still stored; "
                           "delete it with: postern draft delete %lld\n"), (long long) id);
    }
  json_object_unref (r);
  return 0;
}

static int
draft_delete (PstCli *cli, int argc, char **argv)
{
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  JsonObject *params, *r;
  gint64 id;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (!one_id ("draft delete", argc, argv, &id, &status))
    return status;
  params = json_object_new ();
  json_object_set_int_member (params, "id", id);
  r = pst_cli_call (cli, "draft delete", "drafts.delete", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    printf (_("draft %lld deleted\n"), (long long) id);
  json_object_unref (r);
  return 0;
}

const PstCliCmd pst_cli_draft_cmds[] = {
  { "save", draft_save, NULL, "[FILE]",
    N_("keep a message being written (RFC 5322 on stdin or FILE), encrypted to your own key"),
    FALSE },
  { "list", draft_list, NULL, NULL, N_("list the drafts: number, last change, account, To, Subject"),
    FALSE },
  { "show", draft_show, NULL, "ID", N_("write a draft, decrypted, to stdout or -o FILE"), FALSE },
  { "send", draft_send, NULL, "ID", N_("send a draft as send does, then delete it"), FALSE },
  { "delete", draft_delete, NULL, "ID", N_("delete a draft for good"), FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};
