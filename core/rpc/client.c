#include "rpc/client.h"

#include <gio/gunixsocketaddress.h>

#include "rpc/frame.h"
#include "util/error.h"

struct _PstRpcClient {
  PstRpcChannel *channel;
  gint64 next_id;
};

PstRpcClient *
pst_rpc_client_connect (const char *socket_path, GError **error)
{
  g_autoptr (GSocket) sock = NULL;
  g_autoptr (GSocketAddress) addr = NULL;
  g_autoptr (GError) local = NULL;
  PstRpcClient *c;

  sock = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                       &local);
  if (sock == NULL)
    {
      g_set_error (error, PST_ERROR, PST_ERROR_AGENT, "cannot create a socket: %s", local->message);
      return NULL;
    }
  addr = g_unix_socket_address_new (socket_path);
  if (!g_socket_connect (sock, addr, NULL, &local))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_AGENT, "agent not reachable at %s: %s", socket_path,
                   local->message);
      return NULL;
    }
  c = g_new0 (PstRpcClient, 1);
  c->channel = pst_rpc_channel_new (sock);
  c->next_id = 1;
  return c;
}

void
pst_rpc_client_free (PstRpcClient *c)
{
  if (c == NULL)
    return;
  pst_rpc_channel_free (c->channel);
  g_free (c);
}

void
pst_rpc_client_shutdown (PstRpcClient *c)
{
  g_socket_shutdown (pst_rpc_channel_get_socket (c->channel), TRUE, TRUE, NULL);
}

JsonObject *
pst_rpc_client_call (PstRpcClient *c, const char *method, JsonObject *params, const int *fds,
                     guint n_fds, GError **error)
{
  g_autoptr (JsonObject) request = json_object_new ();
  g_autoptr (JsonNode) node = json_node_new (JSON_NODE_OBJECT);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autofree char *line = NULL, *reply = NULL;
  g_autoptr (GError) local = NULL;
  gint64 id = c->next_id++;
  JsonNode *root;
  JsonObject *obj;

  json_object_set_string_member (request, "jsonrpc", "2.0");
  json_object_set_int_member (request, "id", id);
  json_object_set_string_member (request, "method", method);
  json_object_set_object_member (request, "params", params ? params : json_object_new ());
  json_node_set_object (node, request);
  line = pst_rpc_to_line (node);

  if (!pst_rpc_channel_write_line (c->channel, line, fds, n_fds, &local))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_AGENT, "cannot talk to the agent: %s",
                   local->message);
      return NULL;
    }
  /* Notifications may come before the answer; skip them (subscribe is a
   * separate mode). */
  for (;;)
    {
      g_free (reply);
      reply = pst_rpc_channel_read_line (c->channel, NULL, &local);
      if (reply == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_AGENT, "the agent closed the connection%s%s",
                       local ? ": " : "", local ? local->message : "");
          return NULL;
        }
      if (!pst_rpc_parse_line (parser, reply, &local)
          || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_AGENT, "the agent sent a malformed reply");
          return NULL;
        }
      root = json_parser_get_root (parser);
      obj = json_node_get_object (root);
      if (json_object_has_member (obj, "id"))
        break;
    }
  if (json_object_has_member (obj, "error"))
    {
      JsonNode *e = json_object_get_member (obj, "error");
      if (!JSON_NODE_HOLDS_OBJECT (e))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_AGENT, "the agent sent a malformed error");
          return NULL;
        }
      pst_rpc_error_to_gerror (json_node_get_object (e), error);
      return NULL;
    }
  if (!json_object_has_member (obj, "result")
      || !JSON_NODE_HOLDS_OBJECT (json_object_get_member (obj, "result")))
    {
      g_set_error (error, PST_ERROR, PST_ERROR_AGENT, "the agent sent a reply without a result");
      return NULL;
    }
  return json_object_ref (json_object_get_object_member (obj, "result"));
}

JsonObject *
pst_rpc_client_next_notification (PstRpcClient *c, char **method_out, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();

  *method_out = NULL;
  for (;;)
    {
      g_autofree char *line = NULL;
      g_autoptr (GError) local = NULL;
      JsonObject *obj;
      const char *method;

      line = pst_rpc_channel_read_line (c->channel, NULL, &local);
      if (line == NULL)
        {
          g_set_error (error, PST_ERROR, PST_ERROR_AGENT, "the agent closed the connection%s%s",
                       local ? ": " : "", local ? local->message : "");
          return NULL;
        }
      if (!pst_rpc_parse_line (parser, line, NULL)
          || !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
        {
          g_set_error (error, PST_ERROR, PST_ERROR_AGENT, "the agent sent a malformed line");
          return NULL;
        }
      obj = json_node_get_object (json_parser_get_root (parser));
      /* A notification has a method and no id (JSON-RPC 2.0). */
      if (json_object_has_member (obj, "id")
          || !(method = json_object_get_string_member_with_default (obj, "method", NULL)))
        continue;
      *method_out = g_strdup (method);
      if (json_object_has_member (obj, "params")
          && JSON_NODE_HOLDS_OBJECT (json_object_get_member (obj, "params")))
        return json_object_ref (json_object_get_object_member (obj, "params"));
      return json_object_new ();
    }
}
