/* methods-agent.c — hello, agent.stop and subscribe: the agent itself. */
#include <unistd.h>

#include "handlers.h"
#include "bridge.h"
#include "events.h"
#include "net/transport.h"
#include "util/error.h"

JsonObject *
pst_method_hello (PstCall *call, GError **error)
{
  JsonObject *r = json_object_new ();

  json_object_set_int_member (r, "protocol", PST_RPC_PROTOCOL);
  json_object_set_string_member (r, "agent", PACKAGE_VERSION);
  json_object_set_int_member (r, "pid", getpid ());
  {
    /* TLS handshakes since the agent started: full, and resumed sessions. */
    JsonObject *tls = json_object_new ();
    guint full = 0, resumed = 0;

    pst_tls_resumption_stats (&full, &resumed);
    json_object_set_int_member (tls, "full_handshakes", full);
    json_object_set_int_member (tls, "resumed_handshakes", resumed);
    json_object_set_object_member (r, "tls", tls);
  }
  {
    /* Keys of the configuration this agent does not know (config.h). */
    JsonArray *a = json_array_new ();
    const GPtrArray *w;

    g_mutex_lock (&call->agent->config_lock);
    w = pst_config_get_warnings (call->agent->config);
    for (guint i = 0; i < w->len; i++)
      json_array_add_string_element (a, w->pdata[i]);
    g_mutex_unlock (&call->agent->config_lock);
    json_object_set_array_member (r, "config_warnings", a);
  }
  {
    /* Bridge listeners that are configured but not listening, and why. */
    JsonArray *a = json_array_new ();

    for (guint k = 0; call->agent->bridge != NULL && k < 2; k++)
      {
        g_autofree char *failure = pst_bridge_get_failure (call->agent->bridge,
                                                           (PstBridgeKind) k);

        if (failure != NULL)
          json_array_add_string_element (a, failure);
      }
    json_object_set_array_member (r, "bridge_errors", a);
  }
  return r;
}

JsonObject *
pst_method_agent_stop (PstCall *call, GError **error)
{
  JsonObject *r = json_object_new ();

  /* The pid: an agent started by systemd leaves the socket to systemd,
   * so a client that waits for the agent's end watches the process. */
  json_object_set_int_member (r, "pid", getpid ());
  pst_agent_request_stop (call->agent);
  return r;
}

/* From now on this connection also carries notifications (DESIGN.md §5). */
JsonObject *
pst_method_subscribe (PstCall *call, GError **error)
{
  static const char *const known[] = { "mail.new", "outbox.changed", "fetch.progress",
                                       "batch.progress", "scan.quarantined", "account.error",
                                       "bridge.error", "draft.saved", "draft.deleted", "mail.marked",
                                       "mail.deleted", NULL };
  JsonNode *n = call->params ? json_object_get_member (call->params, "events") : NULL;
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  JsonObject *r;

  if (n != NULL && !JSON_NODE_HOLDS_NULL (n))
    {
      JsonArray *a = JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
      for (guint i = 0; a && i < json_array_get_length (a); i++)
        {
          JsonNode *e = json_array_get_element (a, i);
          const char *name = JSON_NODE_HOLDS_VALUE (e) && json_node_get_value_type (e) == G_TYPE_STRING
                               ? json_node_get_string (e) : NULL;
          if (name == NULL || !g_strv_contains (known, name))
            {
              g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "unknown event '%s'",
                           name ? name : "(not a string)");
              return NULL;
            }
          g_ptr_array_add (names, (gpointer) name);
        }
      if (a == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_USAGE, "parameter 'events' must be a list");
          return NULL;
        }
    }
  g_ptr_array_add (names, NULL);
  pst_events_subscribe (call->agent->events, call->channel, names->len > 1 ? (const char *const *) names->pdata : NULL);
  r = json_object_new ();
  json_object_set_array_member (r, "events",
                                pst_json_strv (names->len > 1 ? (char **) names->pdata
                                                              : (char **) known));
  return r;
}
