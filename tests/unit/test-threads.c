/* Unit tests for gui/threads.c: the message list's threads, from what
 * `list` gives (newest first, each with its "thread"). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent.h"
#include "threads.h"

static JsonArray *
parse (const char *json)
{
  g_autoptr (JsonNode) n = json_from_string (json, NULL);

  assert_non_null (n);
  return json_array_ref (json_node_get_array (n));
}

/* The ids of @thread, as "5 3 1". */
static char *
ids (GPtrArray *thread)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; i < thread->len; i++)
    g_string_append_printf (s, "%s%" G_GINT64_FORMAT, i ? " " : "",
                            pst_json_int (g_ptr_array_index (thread, i), "id"));
  return g_string_free (s, FALSE);
}

static void
test_grouped_in_list_order (void **state)
{
  /* Thread 1 got a reply (5) after message 4 arrived alone; 2 has no
   * thread yet (null) and 6 no member at all: each a thread of its own. */
  g_autoptr (JsonArray) list = parse ("[{\"id\": 6}, {\"id\": 5, \"thread\": 1}, {\"id\": 4, \"thread\": 4},"
                                      " {\"id\": 3, \"thread\": 1}, {\"id\": 2, \"thread\": null},"
                                      " {\"id\": 1, \"thread\": 1}]");
  g_autoptr (GPtrArray) threads = pst_threads_group (list);
  const char *want[] = { "6", "5 3 1", "4", "2" };

  assert_int_equal (threads->len, G_N_ELEMENTS (want));
  for (guint i = 0; i < threads->len; i++)
    {
      g_autofree char *got = ids (g_ptr_array_index (threads, i));
      assert_string_equal (got, want[i]);
    }
}

static void
test_thread_of (void **state)
{
  g_autoptr (JsonArray) list = parse ("[{\"id\": 9, \"thread\": 3}, {\"id\": 8, \"thread\": null}, {\"id\": 7}]");

  assert_int_equal (pst_thread_of (json_array_get_object_element (list, 0)), 3);
  assert_int_equal (pst_thread_of (json_array_get_object_element (list, 1)), 8);
  assert_int_equal (pst_thread_of (json_array_get_object_element (list, 2)), 7);
}

static void
test_not_objects_left_out (void **state)
{
  g_autoptr (JsonArray) list = parse ("[1, \"x\", null, [], {\"id\": 2, \"thread\": 2}]");
  g_autoptr (GPtrArray) threads = pst_threads_group (list);
  g_autoptr (GPtrArray) none = pst_threads_group (NULL);

  assert_int_equal (threads->len, 1);
  assert_int_equal (none->len, 0);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_grouped_in_list_order),
    cmocka_unit_test (test_thread_of),
    cmocka_unit_test (test_not_objects_left_out),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
