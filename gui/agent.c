/* agent.c — see agent.h. */
#include "agent.h"

#include <fcntl.h>
#include <unistd.h>

#include "config/paths.h"
#include "rpc/client.h"
#include "rpc/spawn.h"
#include "util/error.h"

#define RETRY_MS 1000

/* What the watcher thread shares with the object; it outlives the object
 * when the thread is still blocked in a read at dispose. */
typedef struct {
  gint refs;
  GMutex lock;
  GCond wake;                  /* signalled when stop is set */
  gboolean stop;
  PstRpcClient *client;        /* the subscribed connection, while open */
  GMainContext *context;
  GWeakRef agent;
  char *socket_path;
} Watch;

struct _PstAgentLink {
  GObject parent;
  char *home;
  PstPaths *paths;
  gboolean running, known;
  Watch *watch;
  GThread *thread;
};

enum { SIG_RUNNING_CHANGED, SIG_NOTIFICATION, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (PstAgentLink, pst_agent_link, G_TYPE_OBJECT)

const char *
pst_json_str (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
           ? json_node_get_string (n) : NULL;
}

JsonObject *
pst_json_obj (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

JsonArray *
pst_json_arr (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

gint64
pst_json_int (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) ? json_node_get_int (n) : 0;
}

gboolean
pst_json_bool (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;
  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
           && json_node_get_boolean (n);
}

static Watch *
watch_ref (Watch *w)
{
  g_atomic_int_inc (&w->refs);
  return w;
}

static void
watch_unref (Watch *w)
{
  if (!g_atomic_int_dec_and_test (&w->refs))
    return;
  g_mutex_clear (&w->lock);
  g_cond_clear (&w->wake);
  g_main_context_unref (w->context);
  g_weak_ref_clear (&w->agent);
  g_free (w->socket_path);
  g_free (w);
}

/* ---- events carried to the main loop ---- */

typedef struct {
  Watch *watch;
  gboolean is_state;
  gboolean running;
  char *text;                   /* why, or the notification's method */
  JsonObject *params;
} Event;

static gboolean
deliver (gpointer data)
{
  Event *e = data;
  g_autoptr (PstAgentLink) self = g_weak_ref_get (&e->watch->agent);

  if (self != NULL && e->is_state)
    {
      gboolean changed = !self->known || self->running != e->running;
      self->running = e->running;
      self->known = TRUE;
      if (changed)
        g_signal_emit (self, signals[SIG_RUNNING_CHANGED], 0, e->running, e->text);
    }
  else if (self != NULL)
    g_signal_emit (self, signals[SIG_NOTIFICATION], 0, e->text, e->params);
  return G_SOURCE_REMOVE;
}

static void
event_free (gpointer data)
{
  Event *e = data;

  watch_unref (e->watch);
  g_free (e->text);
  if (e->params)
    json_object_unref (e->params);
  g_free (e);
}

static void
post (Watch *w, gboolean is_state, gboolean running, const char *text, JsonObject *params)
{
  Event *e = g_new0 (Event, 1);
  g_autoptr (GSource) source = g_idle_source_new ();

  e->watch = watch_ref (w);
  e->is_state = is_state;
  e->running = running;
  e->text = g_strdup (text);
  e->params = params;
  /* Always on the owner's thread (g_main_context_invoke would run it here
   * when nobody iterates that context, as while the application ends). */
  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, deliver, e, event_free);
  g_source_attach (source, w->context);
}

static gboolean
stopping (Watch *w)
{
  gboolean stop;

  g_mutex_lock (&w->lock);
  stop = w->stop;
  g_mutex_unlock (&w->lock);
  return stop;
}

/* Connect, subscribe, pass notifications on; when the connection fails or
 * ends, say so and try again every second. */
static gpointer
watch_thread (gpointer data)
{
  Watch *w = data;
  gboolean was_up = FALSE;

  while (!stopping (w))
    {
      g_autoptr (GError) error = NULL;
      PstRpcClient *client = pst_rpc_client_connect (w->socket_path, &error);
      JsonObject *r = NULL;
      gboolean stop = FALSE;

      /* Published before the first call, so that dispose can cut even an
       * agent that accepts and never answers. */
      g_mutex_lock (&w->lock);
      if (client != NULL && !(stop = w->stop))
        w->client = client;
      g_mutex_unlock (&w->lock);
      if (client != NULL && !stop)
        r = pst_rpc_client_call (client, "subscribe", NULL, NULL, 0, &error);
      if (r != NULL)
        {
          json_object_unref (r);
          if (!stop)
            post (w, TRUE, TRUE, NULL, NULL);
          was_up = TRUE;
          while (!stop)
            {
              char *method = NULL;
              JsonObject *params = pst_rpc_client_next_notification (client, &method, &error);

              if (params == NULL)
                break;
              post (w, FALSE, FALSE, method, params);
              g_free (method);
            }
        }
      g_mutex_lock (&w->lock);
      w->client = NULL;
      g_mutex_unlock (&w->lock);
      pst_rpc_client_free (client);
      if (stopping (w))
        break;
      post (w, TRUE, FALSE, was_up ? "stopped" : "absent", NULL);
      {
        gint64 until = g_get_monotonic_time () + RETRY_MS * G_TIME_SPAN_MILLISECOND;

        g_mutex_lock (&w->lock);
        while (!w->stop && g_cond_wait_until (&w->wake, &w->lock, until))
          ;
        g_mutex_unlock (&w->lock);
      }
    }
  watch_unref (w);
  return NULL;
}

/* ---- calls ---- */

typedef struct {
  char *socket_path;
  char *method;
  JsonObject *params;
  GArray *fds;
} Call;

static void
call_free (gpointer data)
{
  Call *c = data;

  g_free (c->socket_path);
  g_free (c->method);
  if (c->params)
    json_object_unref (c->params);
  for (guint i = 0; i < c->fds->len; i++)
    close (g_array_index (c->fds, int, i));
  g_array_unref (c->fds);
  g_free (c);
}

static void
call_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Call *c = data;
  GError *error = NULL;
  g_autoptr (PstRpcClient) client = pst_rpc_client_connect (c->socket_path, &error);
  JsonObject *r = NULL;

  if (client != NULL)
    r = pst_rpc_client_call (client, c->method, g_steal_pointer (&c->params),
                             (const int *) c->fds->data, c->fds->len, &error);
  if (r != NULL)
    g_task_return_pointer (task, r, (GDestroyNotify) json_object_unref);
  else
    g_task_return_error (task, error);
}

void
pst_agent_link_call_fds (PstAgentLink *self, const char *method, JsonObject *params, const int *fds,
                    guint n_fds, GCancellable *cancellable, GAsyncReadyCallback callback,
                    gpointer data)
{
  g_autoptr (GTask) task = g_task_new (self, cancellable, callback, data);
  Call *c = g_new0 (Call, 1);

  c->socket_path = g_strdup (self->paths->socket_path);
  c->method = g_strdup (method);
  c->params = params;
  c->fds = g_array_new (FALSE, FALSE, sizeof (int));
  for (guint i = 0; i < n_fds; i++)
    {
      int d = fcntl (fds[i], F_DUPFD_CLOEXEC, 3);
      g_array_append_val (c->fds, d);
    }
  g_task_set_task_data (task, c, call_free);
  g_task_run_in_thread (task, call_thread);
}

void
pst_agent_link_call (PstAgentLink *self, const char *method, JsonObject *params, int fd,
                GCancellable *cancellable, GAsyncReadyCallback callback, gpointer data)
{
  pst_agent_link_call_fds (self, method, params, &fd, fd >= 0 ? 1 : 0, cancellable, callback, data);
}

JsonObject *
pst_agent_link_call_finish (PstAgentLink *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
reap (GPid pid, gint status, gpointer data)
{
  g_spawn_close_pid (pid);
}

static void
start_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  PstAgentLink *self = source;
  GError *error = NULL;
  GPid pid = 0;

  if (pst_paths_ensure (self->paths, &error)
      && pst_agent_spawn (self->home, self->paths->socket_path, self->paths->log_path, &pid, &error))
    {
      /* The agent stays our child: reap it when it ends, whenever. */
      g_child_watch_add (pid, reap, NULL);
      g_task_return_boolean (task, TRUE);
    }
  else
    g_task_return_error (task, error);
}

void
pst_agent_link_start (PstAgentLink *self, GAsyncReadyCallback callback, gpointer data)
{
  g_autoptr (GTask) task = g_task_new (self, NULL, callback, data);

  g_task_run_in_thread (task, start_thread);
}

gboolean
pst_agent_link_start_finish (PstAgentLink *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

gboolean
pst_agent_link_is_running (PstAgentLink *self)
{
  return self->running;
}

/* ---- object ---- */

static void
pst_agent_link_dispose (GObject *object)
{
  PstAgentLink *self = PST_AGENT_LINK (object);

  if (self->watch != NULL)
    {
      g_mutex_lock (&self->watch->lock);
      self->watch->stop = TRUE;
      g_cond_signal (&self->watch->wake);
      if (self->watch->client)
        pst_rpc_client_shutdown (self->watch->client);
      g_mutex_unlock (&self->watch->lock);
      g_clear_pointer (&self->thread, g_thread_join);
      g_clear_pointer (&self->watch, watch_unref);
    }
  G_OBJECT_CLASS (pst_agent_link_parent_class)->dispose (object);
}

static void
pst_agent_link_finalize (GObject *object)
{
  PstAgentLink *self = PST_AGENT_LINK (object);

  g_free (self->home);
  pst_paths_free (self->paths);
  G_OBJECT_CLASS (pst_agent_link_parent_class)->finalize (object);
}

static void
pst_agent_link_class_init (PstAgentLinkClass *klass)
{
  GObjectClass *o = G_OBJECT_CLASS (klass);

  o->dispose = pst_agent_link_dispose;
  o->finalize = pst_agent_link_finalize;
  signals[SIG_RUNNING_CHANGED] = g_signal_new ("running-changed", G_TYPE_FROM_CLASS (klass),
                                               G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                               2, G_TYPE_BOOLEAN, G_TYPE_STRING);
  signals[SIG_NOTIFICATION] = g_signal_new ("notification", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE, 2,
                                            G_TYPE_STRING, JSON_TYPE_OBJECT);
}

static void
pst_agent_link_init (PstAgentLink *self)
{
}

PstAgentLink *
pst_agent_link_new (const char *home)
{
  PstAgentLink *self = g_object_new (PST_TYPE_AGENT_LINK, NULL);
  Watch *w = g_new0 (Watch, 1);

  self->home = g_strdup (home);
  self->paths = pst_paths_new (home);
  w->refs = 1;
  g_mutex_init (&w->lock);
  g_cond_init (&w->wake);
  w->context = g_main_context_ref_thread_default ();
  g_weak_ref_init (&w->agent, self);
  w->socket_path = g_strdup (self->paths->socket_path);
  self->watch = w;
  self->thread = g_thread_new ("agent-watch", watch_thread, watch_ref (w));
  return self;
}
