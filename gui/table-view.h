/* table-view.h — a page of the main window that lists what one agent method
 * returns (the outbox, the quarantine, the keys, the accounts) with buttons
 * acting on the selected row, and a line saying what the last action did
 * or why it failed. */
#pragma once

#include <gtk/gtk.h>

#include "agent.h"

G_BEGIN_DECLS

#define PST_TYPE_TABLE_VIEW (pst_table_view_get_type ())
G_DECLARE_FINAL_TYPE (PstTableView, pst_table_view, PST, TABLE_VIEW, GtkBox)

/* The text of a cell, from the row (transfer full).  NULL: the member as a
 * string or a number. */
typedef char *(*PstTableFormat) (JsonObject *row);

typedef struct {
  const char *title;          /* translated */
  const char *member;         /* the row's member shown (also the sort key) */
  PstTableFormat format;      /* may be NULL */
} PstTableColumn;

/* @name: the accessible name of the table (translated).  @method returns
 * an object whose member @array holds the rows.  @columns is copied. */
PstTableView *pst_table_view_new (PstAgentLink *agent, const char *name, const char *method,
                                  const char *array, const PstTableColumn *columns,
                                  guint n_columns);

typedef void (*PstTableAction) (PstTableView *view, JsonObject *row, gpointer data);

/* A button labelled @label (translated); @row is the selected row, or NULL
 * when @needs_row is FALSE and nothing is selected. */
void pst_table_view_add_action (PstTableView *view, const char *label, gboolean needs_row,
                                PstTableAction action, gpointer data);

/* An action that calls @method with {@id_member: row[@id_member]}, then
 * says @done (a format with one %s: the id) and reloads.  @confirm (may be
 * NULL): a question (one %s: the row's @id_member) that must be answered
 * yes first, for what cannot be undone. */
void pst_table_view_add_call (PstTableView *view, const char *label, const char *method,
                              const char *id_member, const char *done, const char *confirm);

/* Column @column (from 0) takes the width left, instead of the last; the
 * others keep a width of their own (160 pixels at least). */
void pst_table_view_set_expanding (PstTableView *view, guint column);
/* @action runs on a row activated (double click, Enter). */
void pst_table_view_on_activate (PstTableView *view, PstTableAction action, gpointer data);

/* Reloads the rows from the agent. */
void pst_table_view_refresh (PstTableView *view);
/* The line under the table: what was done, or an error (red). */
void pst_table_view_say (PstTableView *view, const char *text, gboolean error);
/* What the page says while it has no row: what that means, what to do. */
void pst_table_view_set_empty_text (PstTableView *view, const char *text);
PstAgentLink *pst_table_view_get_agent (PstTableView *view);

G_END_DECLS
