/* Unit tests for crypto/pgp-home.c (pst_pgp_home_check): a change of the
 * GnuPG home's configuration is seen by the very next check, through the
 * inotify watch the first check makes, and without a watch (a symbolic
 * link among the files) by stamping each time. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>
#include <glib/gstdio.h>

#include "crypto/pgp-private.h"

/* Descriptors of this process that are inotify instances. */
static guint
inotify_fds (void)
{
  g_autoptr (GDir) d = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;
  guint n = 0;

  assert_non_null (d);
  while ((name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename ("/proc/self/fd", name, NULL);
      g_autofree char *target = g_file_read_link (path, NULL);

      if (target != NULL && strstr (target, "inotify") != NULL)
        n++;
    }
  return n;
}

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  assert_true (g_file_set_contents (path, text, -1, NULL));
}

static void
remove_tree (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
}

/* A harmless option keeps the in-process path; one that changes what gpg
 * writes ends it at the next check, and its removal brings it back: each
 * seen at once, many checks in a row answered from the watch. */
static void
test_change_seen_at_once (void **state)
{
  g_autofree char *home = g_dir_make_tmp ("pst-pgp-home-XXXXXX", NULL);
  guint before = inotify_fds ();
  g_autofree char *conf = NULL;

  (void) state;
  assert_non_null (home);
  assert_true (pst_pgp_home_check (home));
  assert_int_equal (inotify_fds (), before + 1);
  for (guint i = 0; i < 1000; i++)
    assert_true (pst_pgp_home_check (home));
  assert_int_equal (inotify_fds (), before + 1);

  write_file (home, "gpg.conf", "armor\nno-emit-version\n");
  assert_true (pst_pgp_home_check (home));
  write_file (home, "gpg.conf", "armor\ncipher-algo AES128\n");
  assert_false (pst_pgp_home_check (home));
  assert_false (pst_pgp_home_check (home));
  /* Replaced by a rename, as editors and gpg write. */
  write_file (home, "gpg.conf.new", "armor\n");
  conf = g_build_filename (home, "gpg.conf", NULL);
  {
    g_autofree char *fresh = g_build_filename (home, "gpg.conf.new", NULL);

    assert_int_equal (g_rename (fresh, conf), 0);
  }
  assert_true (pst_pgp_home_check (home));
  write_file (home, "common.conf", "use-keyboxd\nthrow-keyids\n");
  assert_false (pst_pgp_home_check (home));
  g_unlink (conf);
  write_file (home, "common.conf", "use-keyboxd\n");
  assert_true (pst_pgp_home_check (home));
  /* Files gpg writes that are not stamped do not matter. */
  write_file (home, "random_seed", "x");
  assert_true (pst_pgp_home_check (home));
  assert_int_equal (inotify_fds (), before + 1);
  remove_tree (home);
}

/* gpg.conf a symbolic link: what it names may change without an event in
 * the home, so no watch; each check stamps the files, and still sees the
 * change. */
static void
test_symlink_stamped (void **state)
{
  g_autofree char *home = g_dir_make_tmp ("pst-pgp-home-XXXXXX", NULL);
  g_autofree char *elsewhere = g_dir_make_tmp ("pst-pgp-conf-XXXXXX", NULL);
  g_autofree char *target = g_build_filename (elsewhere, "gpg.conf", NULL);
  g_autofree char *link = g_build_filename (home, "gpg.conf", NULL);
  guint before = inotify_fds ();

  (void) state;
  write_file (elsewhere, "gpg.conf", "armor\n");
  assert_int_equal (symlink (target, link), 0);
  assert_true (pst_pgp_home_check (home));
  assert_int_equal (inotify_fds (), before);
  /* Changed in its own directory, unseen by any watch of the home; the
   * size differs, so the stamp does. */
  write_file (elsewhere, "gpg.conf", "armor\ncompress-algo none\n");
  assert_false (pst_pgp_home_check (home));
  remove_tree (home);
  remove_tree (elsewhere);
}

int
main (void)
{
  const struct CMUnitTest tests[] = {
    cmocka_unit_test (test_change_seen_at_once),
    cmocka_unit_test (test_symlink_stamped),
  };

  return cmocka_run_group_tests (tests, NULL, NULL);
}
