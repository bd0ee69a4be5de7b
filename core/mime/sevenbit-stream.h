/* sevenbit-stream.h — pst_mime_to_7bit (sevenbit.h) for a message read as
 * a stream, in memory that does not grow with it: the message is read
 * twice.  The first reading makes a plan (which leaves are re-encoded, and
 * the size of the result, which SMTP's SIZE says before the message); the
 * second gives the result as a stream.  The result is byte for byte
 * pst_mime_to_7bit's.  It refuses what pst_mime_to_7bit refuses (where a
 * message has two faults, it may name the other one), and beyond that
 * only past its limits: a header section longer than
 * PST_MIME_7BIT_MAX_HEADER, a possible delimiter line longer than
 * PST_PART_SPLIT_MAX_CANDIDATE (a boundary followed by a thousand blanks),
 * more than PST_MIME_7BIT_MAX_LEAVES leaves to re-encode — each only in an
 * entity with 8-bit bytes. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The longest header section of an entity that the plan holds: an entity
 * whose header section is longer is taken as it is, and refused if it has
 * 8-bit bytes. */
#define PST_MIME_7BIT_MAX_HEADER (1024 * 1024)

/* The most leaves a plan re-encodes (it keeps 32 bytes for each): a
 * message with more is refused. */
#define PST_MIME_7BIT_MAX_LEAVES 100000

typedef struct _PstSevenBitPlan PstSevenBitPlan;

/* Reads @in to its end and plans its 7-bit copy; NULL with @error
 * (PST_ERROR_FAILED, "cannot make the message 7-bit: …") where
 * pst_mime_to_7bit refuses it, or @in's own error.  Transfer full. */
PstSevenBitPlan *pst_mime_7bit_plan (GInputStream *in, GCancellable *cancellable,
                                     GError **error);
/* The same, fed in pieces (tests, and callers that read on their own). */
typedef struct _PstSevenBitPlanner PstSevenBitPlanner;
PstSevenBitPlanner *pst_mime_7bit_planner_new (void);
gboolean pst_mime_7bit_planner_feed (PstSevenBitPlanner *planner, const char *data, gsize len,
                                     GError **error);
/* Frees @planner.  Transfer full. */
PstSevenBitPlan *pst_mime_7bit_planner_finish (PstSevenBitPlanner *planner, GError **error);
void pst_mime_7bit_planner_free (PstSevenBitPlanner *planner);

/* The size of the 7-bit copy. */
guint64 pst_mime_7bit_plan_size (const PstSevenBitPlan *plan);
/* How many leaves it re-encodes. */
guint pst_mime_7bit_plan_leaves (const PstSevenBitPlan *plan);
void pst_mime_7bit_plan_free (PstSevenBitPlan *plan);

/* The 7-bit copy of @base (the same bytes as planned, read again from the
 * start) as @plan has it.  A read fails (G_IO_ERROR_FAILED) if @base turns
 * out not to be what was planned.  Takes a reference to @base; @plan is
 * copied.  Transfer full. */
GInputStream *pst_mime_7bit_input_new (GInputStream *base, const PstSevenBitPlan *plan);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSevenBitPlan, pst_mime_7bit_plan_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (PstSevenBitPlanner, pst_mime_7bit_planner_free)

G_END_DECLS
