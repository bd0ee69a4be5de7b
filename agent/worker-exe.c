/* posternd-worker — the analysis worker (worker.h), a binary of its own.
 *
 * The same code ran as `posternd --analysis-worker`, a copy of the whole
 * agent: 63 shared libraries (curl, libsecret, SQLite, GnuTLS through
 * libetpan…), whose ~350 mappings every fork copies and every exit tears
 * down — once per message analysed.  This binary links only what reading
 * mail needs: 38 shared libraries, or 23 with -Dworker_static_parsers=true
 * (libetpan and GPGME linked in, without the TLS and SASL libraries the
 * shared libetpan pulls in), a third less CPU per message (issue 16,
 * docs/performance.md).  The agent starts it only if it is not writable by
 * others, and it refuses an agent of another version (worker.c). */
#include <stdio.h>
#include <string.h>

#include "worker.h"
#include "worker-proto.h"

int
main (int argc, char **argv)
{
  /* Started by the agent only (agent/worker.c), with its control socket
   * and its version: this binary serves an agent of its own version only
   * (the control protocol is the build's, worker-proto.h). */
  if (argc != 3 || strcmp (argv[1], "--analysis-worker") != 0)
    {
      fprintf (stderr, "posternd-worker: the agent's analysis worker, started by posternd only\n");
      return 2;
    }
  if (strcmp (argv[2], PACKAGE_VERSION) != 0)
    {
      fprintf (stderr, "posternd-worker %s: started by an agent of version %s\n", PACKAGE_VERSION,
               argv[2]);
      return WORKER_EXIT_VERSION;
    }
  pst_worker_main ();
  return 1;
}
