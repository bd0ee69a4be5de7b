/* outbox.c — `postern outbox list|retry|cancel`. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "util/error.h"

static int
outbox_list (PstCli *cli, int argc, char **argv)
{
  g_autofree char *account = NULL, *state = NULL;
  GOptionEntry entries[] = {
    { "account", 0, 0, G_OPTION_ARG_STRING, &account, N_("Only this account"), "NAME" },
    { "state", 0, 0, G_OPTION_ARG_STRING, &state,
      N_("Only entries in STATE: queued, sending, sent, failed or cancelled"), "STATE" },
    G_OPTION_ENTRY_NULL,
  };
  JsonObject *params, *r;
  JsonArray *arr;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 1)
    return pst_cli_usage ("outbox list", _("takes --account NAME and --state STATE only"));
  params = json_object_new ();
  if (account)
    json_object_set_string_member (params, "account", account);
  if (state)
    json_object_set_string_member (params, "state", state);
  r = pst_cli_call (cli, _("outbox list"), "outbox.list", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    {
      pst_cli_print_json (r);
      json_object_unref (r);
      return 0;
    }
  arr = json_object_get_array_member (r, "outbox");
  for (guint i = 0; i < json_array_get_length (arr); i++)
    {
      JsonObject *e = json_array_get_object_element (arr, i);
      JsonArray *to = json_object_get_array_member (e, "to");
      const char *st = json_object_get_string_member (e, "state");
      const char *reply = json_object_get_string_member_with_default (e, "last_reply", NULL);
      gboolean doubt = json_object_get_boolean_member (e, "in_doubt");
      g_autofree char *next = pst_cli_format_time (json_object_get_int_member (e, "next_try"));
      g_autofree char *created = pst_cli_format_time (json_object_get_int_member (e, "created_at"));
      g_autoptr (GString) rcpts = g_string_new (NULL);
      g_autofree char *acct = pst_cli_safe (json_object_get_string_member (e, "account"));
      g_autofree char *safe_reply = pst_cli_safe (reply);

      /* Recipients come from the message's headers, the reply from the server. */
      for (guint j = 0; j < json_array_get_length (to); j++)
        {
          g_autofree char *rcpt = pst_cli_safe (json_array_get_string_element (to, j));
          g_string_append_printf (rcpts, "%s%s", j ? ", " : "", rcpt);
        }
      printf ("%6" G_GINT64_FORMAT "  %-9s %-12s %s  %s\n", json_object_get_int_member (e, "id"),
              st, acct, created, rcpts->str);
      if (doubt && strcmp (st, "sending") == 0)
        printf ("        %s\n", _("IN DOUBT: the agent stopped between the final dot and the "
                                  "server's reply; it may have been delivered. Check with a "
                                  "recipient, then `outbox retry` or `outbox cancel` it."));
      if (strcmp (st, "queued") == 0 && json_object_get_int_member (e, "next_try") > 0)
        printf ("        %s %s (%s %" G_GINT64_FORMAT ")\n", _("next try:"), next, _("attempts:"),
                json_object_get_int_member (e, "attempts"));
      if (reply)
        printf ("        %s %s\n", _("server:"), safe_reply);
    }
  json_object_unref (r);
  return 0;
}

/* outbox retry ID, outbox cancel ID. */
static int
outbox_one (PstCli *cli, gboolean retry, int argc, char **argv)
{
  const char *what = retry ? "outbox retry" : "outbox cancel";
  GOptionEntry entries[] = { G_OPTION_ENTRY_NULL };
  guint64 id = 0;
  JsonObject *params, *r;
  int status = 0;

  if (!pst_cli_parse (cli, entries, &argc, &argv, &status))
    return status;
  if (argc != 2)
    return pst_cli_usage (what, _("give one outbox ID"));
  if (!g_ascii_string_to_unsigned (argv[1], 10, 1, G_MAXINT64, &id, NULL))
    return pst_cli_usage (what, _("give one outbox ID (a number, as `outbox list` shows)"));
  params = json_object_new ();
  json_object_set_int_member (params, "id", (gint64) id);
  r = pst_cli_call (cli, what, retry ? "outbox.retry" : "outbox.cancel", params, NULL, 0, &status);
  if (r == NULL)
    return status;
  if (cli->json)
    pst_cli_print_json (r);
  else
    {
      g_autofree char *id_text_out = g_strdup_printf ("%" G_GUINT64_FORMAT, id);
      /* TRANSLATORS: "outbox 12: queued" */
      printf (_("outbox %s: %s\n"), id_text_out, json_object_get_string_member (r, "state"));
    }
  json_object_unref (r);
  return 0;
}

static int
outbox_retry (PstCli *cli, int argc, char **argv)
{
  return outbox_one (cli, TRUE, argc, argv);
}

static int
outbox_cancel (PstCli *cli, int argc, char **argv)
{
  return outbox_one (cli, FALSE, argc, argv);
}

const PstCliCmd pst_cli_outbox_cmds[] = {
  { "list", outbox_list, NULL, NULL,
    N_("list what waits to be sent, was sent or failed, with the server's last reply"), FALSE },
  { "retry", outbox_retry, NULL, "ID", N_("send a failed or waiting entry again, now"), FALSE },
  { "cancel", outbox_cancel, NULL, "ID", N_("cancel an entry not sent yet: it is never sent"),
    FALSE },
  { NULL, NULL, NULL, NULL, NULL, FALSE },
};
