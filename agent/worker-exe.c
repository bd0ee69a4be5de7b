/* posternd-worker — the analysis worker (worker.h), a binary of its own.
 *
 * The same code ran as `posternd --analysis-worker`, a copy of the whole
 * agent: 63 shared libraries (curl, libsecret, SQLite, GnuTLS through
 * libetpan…), whose ~350 mappings every fork copies and every exit tears
 * down — once per message analysed.  This binary links only what reading
 * mail needs, libetpan and GPGME statically (their objects for parsing,
 * without the TLS and SASL libraries the shared libetpan pulls in): about
 * 20 shared libraries and 130 mappings, which halves the zygote's cost of a
 * fork (issue 16, docs/performance.md). */
#include <stdio.h>
#include <string.h>

#include "worker.h"

int
main (int argc, char **argv)
{
  /* Started by the agent only (agent/worker.c), with its control socket. */
  if (argc != 2 || strcmp (argv[1], "--analysis-worker") != 0)
    {
      fprintf (stderr, "posternd-worker: the agent's analysis worker, started by posternd only\n");
      return 2;
    }
  pst_worker_main ();
  return 1;
}
