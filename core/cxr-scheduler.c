/* cxr-scheduler.c: runs a pipeline, one thread per stage, bounded queues
 * between them.
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cxr-private.h"

/**
 * CxrScheduler:
 *
 * Runs a #CxrPipeline.
 *
 * cxr_scheduler_run() validates the graph, then runs every stage on a
 * thread of its own. Batches travel through bounded queues
 * (#CxrScheduler:queue-size batches per input port): a fast stage blocks
 * when the next one falls behind, so memory stays bounded, and a slow
 * loader overlaps with compute. The first error of any stage stops the
 * run and is returned, prefixed with the stage's name; cancelling the
 * #GCancellable (the `cxrgen` command does it on SIGINT) stops every
 * stage, calls its stop function so it can checkpoint or remove partial
 * output, and returns %G_IO_ERROR_CANCELLED.
 *
 * Progress goes to a bar on stderr (#CxrScheduler:progress; with the
 * status lines stages set, cxr_stage_set_status()) and, for
 * machines, to JSON lines: in the file #CxrScheduler:events-path and
 * through the #CxrScheduler::event signal, both emitted on the thread that
 * called cxr_scheduler_run(). Each line is an object with an "event" key:
 * "start", "stage-start", "progress", "stage-finish", "error" or "done".
 */

struct _CxrScheduler {
  GObject parent_instance;
  CxrPipeline *pipeline;
  guint queue_size;
  CxrProgressMode progress;
  gchar *events_path;
  guint progress_interval;
};

enum {
  PROP_0,
  PROP_PIPELINE,
  PROP_QUEUE_SIZE,
  PROP_PROGRESS,
  PROP_EVENTS_PATH,
  PROP_PROGRESS_INTERVAL,
  N_PROPS
};

enum {
  SIGNAL_EVENT,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPS];
static guint signals[N_SIGNALS];

G_DEFINE_FINAL_TYPE (CxrScheduler, cxr_scheduler, G_TYPE_OBJECT)

/* ------------------------------------------------------------- the queue */

/* One queue per stage with inputs, shared by its input ports; each port
 * holds at most `capacity` batches before its producer blocks.
 *
 * A port may be closed by its consumer (it returned %CXR_FLOW_EOS for a
 * batch of that port): what waits on it is dropped and later pushes to it
 * are refused, so the producer learns that nobody wants more.
 *
 * A leading port (cxr_stage_class_set_leading_input()) is delivered to
 * its end before any item of the other ports; while it is open the others
 * wait in the queue, and, when the leading stream and the others share a
 * producer upstream (@others_unbounded), they may exceed their capacity,
 * or that producer would block on them and never finish the leading
 * stream. */

typedef struct {
  guint port;
  CxrBatch *batch; /* NULL: end of stream on @port */
} Item;

typedef enum {
  PUSH_OK,
  PUSH_FLUSHING,
  PUSH_CLOSED,
} PushResult;

typedef struct {
  GMutex lock;
  GCond cond;
  GQueue items;
  guint capacity;  /* batches per port */
  guint n_ports;
  guint *waiting;  /* per port: batches in @items */
  gboolean *closed; /* per port */
  gint leading;     /* the leading port while its stream is open, or -1 */
  gboolean others_unbounded;
  gboolean flushing;
} Queue;

static Queue *
queue_new (guint capacity, guint n_ports)
{
  Queue *queue = g_new0 (Queue, 1);
  g_mutex_init (&queue->lock);
  g_cond_init (&queue->cond);
  g_queue_init (&queue->items);
  queue->capacity = MAX (capacity, 1);
  queue->n_ports = n_ports;
  queue->waiting = g_new0 (guint, n_ports);
  queue->closed = g_new0 (gboolean, n_ports);
  queue->leading = -1;
  return queue;
}

static void
item_free (Item *item)
{
  g_clear_object (&item->batch);
  g_free (item);
}

static void
queue_free (Queue *queue)
{
  g_queue_clear_full (&queue->items, (GDestroyNotify) item_free);
  g_free (queue->waiting);
  g_free (queue->closed);
  g_mutex_clear (&queue->lock);
  g_cond_clear (&queue->cond);
  g_free (queue);
}

static gboolean
queue_port_full (Queue *queue, guint port)
{
  if (queue->waiting[port] < queue->capacity)
    return FALSE;
  return !(queue->others_unbounded && queue->leading >= 0 && (gint) port != queue->leading);
}

/* Takes @batch. Blocks while @port is full; end-of-stream items never
 * block. PUSH_FLUSHING when the run is stopping, PUSH_CLOSED when the
 * consumer wants nothing more on @port (the batch is dropped). */
static PushResult
queue_push (Queue *queue, guint port, CxrBatch *batch)
{
  Item *item;

  g_mutex_lock (&queue->lock);
  while (batch != NULL && !queue->flushing && !queue->closed[port] && queue_port_full (queue, port))
    g_cond_wait (&queue->cond, &queue->lock);
  if (queue->flushing || queue->closed[port])
    {
      PushResult result = queue->flushing ? PUSH_FLUSHING : PUSH_CLOSED;
      g_mutex_unlock (&queue->lock);
      g_clear_object (&batch);
      return result;
    }
  item = g_new0 (Item, 1);
  item->port = port;
  item->batch = batch;
  if (batch != NULL)
    queue->waiting[port]++;
  g_queue_push_tail (&queue->items, item);
  g_cond_broadcast (&queue->cond);
  g_mutex_unlock (&queue->lock);
  return PUSH_OK;
}

/* The first item the consumer may take: the head, or while a leading
 * port is open, the first item of that port. */
static GList *
queue_next (Queue *queue)
{
  if (queue->leading < 0)
    return queue->items.head;
  for (GList *l = queue->items.head; l; l = l->next)
    if (((Item *) l->data)->port == (guint) queue->leading)
      return l;
  return NULL;
}

/* Blocks until an item comes; NULL when the queue is flushing. */
static Item *
queue_pop (Queue *queue)
{
  Item *item = NULL;
  GList *link = NULL;

  g_mutex_lock (&queue->lock);
  while (!queue->flushing && (link = queue_next (queue)) == NULL)
    g_cond_wait (&queue->cond, &queue->lock);
  if (!queue->flushing)
    {
      item = link->data;
      g_queue_delete_link (&queue->items, link);
      if (item->batch != NULL)
        queue->waiting[item->port]--;
      else if ((gint) item->port == queue->leading)
        queue->leading = -1; /* the leading stream is complete: the others flow */
      g_cond_broadcast (&queue->cond);
    }
  g_mutex_unlock (&queue->lock);
  return item;
}

/* The consumer wants no more on @port: drop what waits there (its end of
 * stream too: the consumer counts the port as ended now) and refuse the
 * rest. */
static void
queue_close_port (Queue *queue, guint port)
{
  GList *l, *next;

  g_mutex_lock (&queue->lock);
  queue->closed[port] = TRUE;
  for (l = queue->items.head; l; l = next)
    {
      Item *item = l->data;
      next = l->next;
      if (item->port == port)
        {
          item_free (item);
          g_queue_delete_link (&queue->items, l);
        }
    }
  queue->waiting[port] = 0;
  if (queue->leading == (gint) port)
    queue->leading = -1;
  g_cond_broadcast (&queue->cond);
  g_mutex_unlock (&queue->lock);
}

static void
queue_set_flushing (Queue *queue)
{
  g_mutex_lock (&queue->lock);
  queue->flushing = TRUE;
  g_cond_broadcast (&queue->cond);
  g_mutex_unlock (&queue->lock);
}

/* --------------------------------------------------------------- the run */

typedef struct {
  Queue *queue;
  guint port;
  gboolean closed; /* the consumer closed the port: pushes skip it */
} Consumer;

typedef struct _Run Run;

typedef struct {
  Run *run;
  CxrStage *stage;
  Queue *queue;       /* NULL for a source */
  guint n_inputs;
  guint n_linked; /* inputs fed by a link: the end-of-streams to wait for */
  gboolean *ended;    /* per input port: its stream ended or was closed */
  GPtrArray *outputs; /* per output port: GArray of Consumer */
  guint n_consumers, n_open_consumers; /* over every output port */
  GThread *thread;
  gboolean is_terminal;
  gint64 started_us;
} Node;

struct _Run {
  CxrScheduler *scheduler;
  GPtrArray *nodes;        /* Node */
  GCancellable *cancellable;
  GMainContext *context;
  GAsyncQueue *events;     /* gchar * JSON lines, from the stage threads */
  gint running;            /* atomic: stage threads not yet done */
  GMutex error_lock;
  GError *error;
  FILE *events_file;
  gboolean draw_bar;
  gboolean bar_drawn;
  gint64 started_us;
};

static gdouble
seconds_since (gint64 start_us)
{
  return (g_get_monotonic_time () - start_us) / 1e6;
}

/* JSON event lines. */
static GString *
event_begin (Run *run, const gchar *type)
{
  GString *line = g_string_new ("{\"event\":");
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  _cxr_json_append_string (line, type);
  g_string_append_printf (line, ",\"time\":%s",
                          g_ascii_formatd (buf, sizeof buf, "%.3f", seconds_since (run->started_us)));
  return line;
}

static void
event_add_string (GString *line, const gchar *key, const gchar *value)
{
  g_string_append_c (line, ',');
  _cxr_json_append_string (line, key);
  g_string_append_c (line, ':');
  if (value == NULL)
    g_string_append (line, "null");
  else
    _cxr_json_append_string (line, value);
}

static void
event_add_number (GString *line, const gchar *key, gdouble value)
{
  gchar buf[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_c (line, ',');
  _cxr_json_append_string (line, key);
  g_string_append_printf (line, ":%s", g_ascii_formatd (buf, sizeof buf, "%.6g", value));
}

static void
event_add_int (GString *line, const gchar *key, gint64 value)
{
  g_string_append_c (line, ',');
  _cxr_json_append_string (line, key);
  g_string_append_printf (line, ":%" G_GINT64_FORMAT, value);
}

/* On the run's thread: write and emit one event line. */
static void
event_emit (Run *run, GString *line)
{
  g_string_append_c (line, '}');
  if (run->events_file != NULL)
    {
      fputs (line->str, run->events_file);
      fputc ('\n', run->events_file);
      fflush (run->events_file);
    }
  g_signal_emit (run->scheduler, signals[SIGNAL_EVENT], 0, line->str);
  g_string_free (line, TRUE);
}

/* From a stage thread: hand the event to the run's thread. */
static void
event_post (Run *run, GString *line)
{
  g_string_append_c (line, '}');
  g_async_queue_push (run->events, g_string_free (line, FALSE));
  g_main_context_wakeup (run->context);
}

static void
events_drain (Run *run)
{
  gchar *text;

  while ((text = g_async_queue_try_pop (run->events)) != NULL)
    {
      if (run->events_file != NULL)
        {
          fputs (text, run->events_file);
          fputc ('\n', run->events_file);
          fflush (run->events_file);
        }
      g_signal_emit (run->scheduler, signals[SIGNAL_EVENT], 0, text);
      g_free (text);
    }
}

static void
run_fail (Run *run, CxrStage *stage, GError *error)
{
  gboolean first = FALSE;

  g_mutex_lock (&run->error_lock);
  if (run->error == NULL)
    {
      const gchar *factory = cxr_stage_get_factory_name (stage);
      run->error = g_error_new (error->domain, error->code, "stage %s%s%s%s: %s",
                                cxr_stage_get_name (stage), factory ? " (" : "",
                                factory ? factory : "", factory ? ")" : "", error->message);
      first = TRUE;
    }
  g_mutex_unlock (&run->error_lock);
  if (first)
    {
      GString *line = event_begin (run, "error");
      event_add_string (line, "stage", cxr_stage_get_name (stage));
      event_add_string (line, "domain", g_quark_to_string (error->domain));
      event_add_int (line, "code", error->code);
      event_add_string (line, "message", run->error->message);
      event_post (run, line);
    }
  g_cancellable_cancel (run->cancellable);
}

static CxrFlowReturn
node_push (CxrStage *stage, guint port, CxrBatch *batch, gpointer user_data)
{
  Node *node = user_data;
  GArray *consumers;

  if (g_cancellable_is_cancelled (node->run->cancellable))
    return CXR_FLOW_CANCELLED;
  consumers = g_ptr_array_index (node->outputs, port);
  for (guint i = 0; i < consumers->len; i++)
    {
      Consumer *consumer = &g_array_index (consumers, Consumer, i);
      CxrBatch *out;
      PushResult result;

      if (consumer->closed)
        continue;
      /* Each consumer gets a batch of its own to add fields to; values
       * are shared. */
      out = i + 1 < consumers->len ? cxr_batch_copy (batch) : g_object_ref (batch);
      result = queue_push (consumer->queue, consumer->port, out);
      if (result == PUSH_FLUSHING)
        return CXR_FLOW_CANCELLED;
      if (result == PUSH_CLOSED)
        {
          consumer->closed = TRUE;
          node->n_open_consumers--;
        }
    }
  /* nobody downstream wants more: the stage may stop early */
  return node->n_consumers > 0 && node->n_open_consumers == 0 ? CXR_FLOW_EOS : CXR_FLOW_OK;
}

static void
node_send_eos (Node *node)
{
  for (guint port = 0; port < node->outputs->len; port++)
    {
      GArray *consumers = g_ptr_array_index (node->outputs, port);
      for (guint i = 0; i < consumers->len; i++)
        {
          Consumer *consumer = &g_array_index (consumers, Consumer, i);
          queue_push (consumer->queue, consumer->port, NULL);
        }
    }
}

static gpointer
node_thread (gpointer data)
{
  Node *node = data;
  Run *run = node->run;
  CxrStage *stage = node->stage;
  CxrStageClass *klass = CXR_STAGE_GET_CLASS (stage);
  g_autoptr (GError) error = NULL;
  gboolean ok, completed = FALSE;
  GString *line;

  node->started_us = g_get_monotonic_time ();
  line = event_begin (run, "stage-start");
  event_add_string (line, "stage", cxr_stage_get_name (stage));
  event_post (run, line);

  ok = klass->prepare == NULL || klass->prepare (stage, &error);
  if (ok && node->queue == NULL)
    {
      /* A source: call process until it says end of stream. */
      for (;;)
        {
          CxrFlowReturn ret;
          if (g_cancellable_is_cancelled (run->cancellable))
            break;
          ret = klass->process (stage, 0, NULL, &error);
          if (ret == CXR_FLOW_EOS)
            {
              completed = TRUE;
              break;
            }
          if (ret == CXR_FLOW_ERROR)
            {
              ok = FALSE;
              break;
            }
          if (ret == CXR_FLOW_CANCELLED)
            break;
        }
    }
  else if (ok)
    {
      guint ended = 0;
      while (ended < node->n_linked)
        {
          Item *item = queue_pop (node->queue);
          CxrFlowReturn ret;
          guint port;

          if (item == NULL)
            break; /* flushing */
          port = item->port;
          if (item->batch == NULL)
            {
              g_free (item);
              ended++;
              node->ended[port] = TRUE;
              if (klass->input_ended != NULL && !klass->input_ended (stage, port, &error))
                {
                  ok = FALSE;
                  break;
                }
              continue;
            }
          _cxr_stage_count_in (stage, cxr_batch_get_size (item->batch));
          ret = klass->process (stage, port, item->batch, &error);
          g_object_unref (item->batch);
          g_free (item);
          if (ret == CXR_FLOW_ERROR)
            {
              ok = FALSE;
              break;
            }
          if (ret == CXR_FLOW_CANCELLED)
            break;
          if (ret == CXR_FLOW_EOS && !node->ended[port])
            {
              /* the stage wants no more on @port: that input has ended,
               * and its producer hears so on its next push */
              queue_close_port (node->queue, port);
              ended++;
              node->ended[port] = TRUE;
              if (klass->input_ended != NULL && !klass->input_ended (stage, port, &error))
                {
                  ok = FALSE;
                  break;
                }
            }
        }
      completed = ok && ended == node->n_linked;
    }
  if (ok && completed && !g_cancellable_is_cancelled (run->cancellable))
    {
      ok = klass->finish == NULL || klass->finish (stage, &error);
      completed = ok;
    }
  else
    completed = FALSE;

  if (!ok)
    {
      if (error == NULL)
        g_set_error (&error, CXR_STAGE_ERROR, CXR_STAGE_ERROR_FAILED,
                     "failed without saying why (a bug in the stage type %s)",
                     G_OBJECT_TYPE_NAME (stage));
      run_fail (run, stage, error);
    }
  if (completed && g_cancellable_is_cancelled (run->cancellable))
    completed = FALSE;
  if (klass->stop != NULL)
    klass->stop (stage, completed);
  if (completed)
    node_send_eos (node);

  line = event_begin (run, "stage-finish");
  event_add_string (line, "stage", cxr_stage_get_name (stage));
  event_add_string (line, "status", completed ? "ok" : ok ? "cancelled" : "error");
  event_add_int (line, "samples-in", (gint64) cxr_stage_get_samples_in (stage));
  event_add_int (line, "samples-out", (gint64) cxr_stage_get_samples_out (stage));
  event_add_number (line, "seconds", seconds_since (node->started_us));
  g_atomic_int_dec_and_test (&run->running);
  event_post (run, line);
  return NULL;
}

static void
run_on_cancelled (GCancellable *cancellable, gpointer user_data)
{
  Run *run = user_data;

  for (guint i = 0; i < run->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (run->nodes, i);
      if (node->queue)
        queue_set_flushing (node->queue);
    }
  g_main_context_wakeup (run->context);
}

static void
forward_cancel (GCancellable *user_cancellable, gpointer user_data)
{
  g_cancellable_cancel (G_CANCELLABLE (user_data));
}

/* Samples the sources said they will make, or -1 if any did not say. The
 * sources say so in prepare, on their own threads. */
static gint64
run_total (Run *run)
{
  gint64 total = 0;

  for (guint i = 0; i < run->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (run->nodes, i);
      gint64 n;
      if (node->queue != NULL)
        continue;
      n = cxr_stage_get_total (node->stage);
      if (n < 0)
        return -1;
      total += n;
    }
  return total;
}

/* Samples done: the fewest that any terminal stage has taken in (a
 * pipeline of one source: what it pushed). */
static guint64
run_samples_done (Run *run)
{
  guint64 done = G_MAXUINT64;

  for (guint i = 0; i < run->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (run->nodes, i);
      guint64 n;
      if (!node->is_terminal)
        continue;
      n = node->queue ? cxr_stage_get_samples_in (node->stage) : cxr_stage_get_samples_out (node->stage);
      done = MIN (done, n);
    }
  return done == G_MAXUINT64 ? 0 : done;
}

static void
draw_bar (Run *run, gboolean final)
{
  guint64 done = run_samples_done (run);
  gdouble elapsed = seconds_since (run->started_us);
  gdouble rate = elapsed > 0 ? done / elapsed : 0;
  GString *bar = g_string_new ("\r\033[K");
  const guint width = 30;
  gint64 total = run_total (run);

  if (total > 0)
    {
      gdouble fraction = MIN (1.0, (gdouble) done / total);
      guint filled = (guint) (fraction * width);
      g_string_append_c (bar, '[');
      for (guint i = 0; i < width; i++)
        g_string_append_c (bar, i < filled ? '=' : (i == filled ? '>' : ' '));
      g_string_append_printf (bar, "] %3.0f%% %" G_GUINT64_FORMAT "/%" G_GINT64_FORMAT, fraction * 100,
                              done, total);
    }
  else
    g_string_append_printf (bar, "%" G_GUINT64_FORMAT " samples", done);
  g_string_append_printf (bar, "  %.1f/s", rate);
  if (total > 0 && rate > 0 && !final)
    {
      guint eta = (guint) (MAX (0.0, total - (gdouble) done) / rate + 0.5);
      g_string_append_printf (bar, "  ETA %u:%02u:%02u", eta / 3600, eta / 60 % 60, eta % 60);
    }
  else
    {
      guint e = (guint) elapsed;
      g_string_append_printf (bar, "  %u:%02u:%02u", e / 3600, e / 60 % 60, e % 60);
    }
  for (guint i = 0; i < run->nodes->len; i++)
    {
      /* what stages say of themselves (a trainer: its step and loss) */
      Node *node = g_ptr_array_index (run->nodes, i);
      g_autofree gchar *status = cxr_stage_dup_status (node->stage);
      if (status)
        g_string_append_printf (bar, "  %s: %s", cxr_stage_get_name (node->stage), status);
    }
  if (final)
    g_string_append_c (bar, '\n');
  fputs (bar->str, stderr);
  fflush (stderr);
  run->bar_drawn = !final;
  g_string_free (bar, TRUE);
}

static void
emit_progress (Run *run)
{
  guint64 done = run_samples_done (run);
  gdouble elapsed = seconds_since (run->started_us);
  gdouble rate = elapsed > 0 ? done / elapsed : 0;
  GString *line = event_begin (run, "progress");
  GString *stages = g_string_new ("{");
  gint64 total = run_total (run);

  event_add_int (line, "samples", (gint64) done);
  if (total >= 0)
    event_add_int (line, "total", total);
  else
    g_string_append (line, ",\"total\":null");
  event_add_number (line, "rate", rate);
  if (total > 0 && rate > 0)
    event_add_number (line, "eta", MAX (0.0, (total - (gdouble) done) / rate));
  else
    g_string_append (line, ",\"eta\":null");
  for (guint i = 0; i < run->nodes->len; i++)
    {
      Node *node = g_ptr_array_index (run->nodes, i);
      if (i)
        g_string_append_c (stages, ',');
      g_autofree gchar *status = cxr_stage_dup_status (node->stage);
      guint64 in = cxr_stage_get_samples_in (node->stage);
      _cxr_json_append_string (stages, cxr_stage_get_name (node->stage));
      g_string_append_printf (stages, ":{\"in\":%" G_GUINT64_FORMAT ",\"out\":%" G_GUINT64_FORMAT,
                              in, cxr_stage_get_samples_out (node->stage));
      event_add_number (stages, "rate", elapsed > 0 ? in / elapsed : 0);
      if (status)
        {
          g_string_append (stages, ",\"status\":");
          _cxr_json_append_string (stages, status);
        }
      g_string_append_c (stages, '}');
    }
  g_string_append_c (stages, '}');
  g_string_append (line, ",\"stages\":");
  g_string_append (line, stages->str);
  g_string_free (stages, TRUE);
  event_emit (run, line);
}

static gboolean
on_progress_tick (gpointer user_data)
{
  Run *run = user_data;

  events_drain (run);
  emit_progress (run);
  if (run->draw_bar)
    draw_bar (run, FALSE);
  return G_SOURCE_CONTINUE;
}

static void
node_free (gpointer data)
{
  Node *node = data;

  if (node->queue)
    queue_free (node->queue);
  g_free (node->ended);
  g_ptr_array_unref (node->outputs);
  g_free (node);
}

static Node *
find_node (Run *run, CxrStage *stage)
{
  for (guint i = 0; i < run->nodes->len; i++)
    if (((Node *) g_ptr_array_index (run->nodes, i))->stage == stage)
      return g_ptr_array_index (run->nodes, i);
  return NULL;
}

/* Adds @stage and every stage that feeds it, through @links, to @set;
 * each stage is visited once. */
static void
add_ancestors (CxrStage *stage, GPtrArray *links, GHashTable *set)
{
  if (!g_hash_table_add (set, stage))
    return;
  for (guint i = 0; i < links->len; i++)
    {
      CxrLink *link = g_ptr_array_index (links, i);
      if (link->down == stage)
        add_ancestors (link->up, links, set);
    }
}

/* The stage's leading input, when it is linked: the queue delivers it
 * first. When a stage upstream feeds both the leading input and another,
 * the others may not block that stage while the leading stream is open. */
static void
node_set_leading (Node *node, GPtrArray *links)
{
  gint leading;
  g_autoptr (GHashTable) leading_feeders = NULL;

  if (node->queue == NULL)
    return;
  leading = cxr_stage_class_get_leading_input (CXR_STAGE_GET_CLASS (node->stage));
  for (guint i = 0; leading >= 0 && i < links->len; i++)
    {
      CxrLink *link = g_ptr_array_index (links, i);
      if (link->down == node->stage && link->down_port == (guint) leading)
        {
          leading_feeders = g_hash_table_new (NULL, NULL);
          add_ancestors (link->up, links, leading_feeders);
        }
    }
  if (leading_feeders == NULL)
    return;
  node->queue->leading = leading;
  for (guint i = 0; i < links->len; i++)
    {
      CxrLink *link = g_ptr_array_index (links, i);
      g_autoptr (GHashTable) feeders = NULL;
      GHashTableIter iter;
      gpointer stage;

      if (link->down != node->stage || link->down_port == (guint) leading)
        continue;
      feeders = g_hash_table_new (NULL, NULL);
      add_ancestors (link->up, links, feeders);
      g_hash_table_iter_init (&iter, feeders);
      while (g_hash_table_iter_next (&iter, &stage, NULL))
        if (g_hash_table_contains (leading_feeders, stage))
          node->queue->others_unbounded = TRUE;
    }
}

/**
 * cxr_scheduler_run:
 * @self: a scheduler
 * @cancellable: (nullable): cancels the run
 * @error: return location for a #GError
 *
 * Validates the pipeline and runs it to the end. Blocks the calling
 * thread, on which it dispatches the thread-default main context (or a
 * private one if another thread owns that), so signal handlers and timers
 * of the caller keep running, and emits #CxrScheduler::event there.
 *
 * Returns: %TRUE if every stage completed; %FALSE with the first error,
 *   or with %G_IO_ERROR_CANCELLED when @cancellable was cancelled
 */
gboolean
cxr_scheduler_run (CxrScheduler *self, GCancellable *cancellable, GError **error)
{
  g_autoptr (GList) stages = NULL;
  g_autoptr (GMainContext) context = NULL;
  GPtrArray *links;
  Run run = { 0 };
  GSource *tick = NULL;
  gulong user_handler = 0, run_handler = 0;
  gboolean ok;
  const gchar *status;
  GString *line;

  g_return_val_if_fail (CXR_IS_SCHEDULER (self), FALSE);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), FALSE);

  if (!cxr_pipeline_validate (self->pipeline, error))
    return FALSE;
  stages = cxr_pipeline_get_sorted_stages (self->pipeline, error);
  if (stages == NULL)
    return FALSE;

  context = g_main_context_ref_thread_default ();
  if (!g_main_context_acquire (context))
    {
      g_main_context_unref (context);
      context = g_main_context_new ();
      g_main_context_acquire (context);
    }

  run.scheduler = self;
  run.context = context;
  run.cancellable = g_cancellable_new ();
  run.events = g_async_queue_new_full (g_free);
  run.nodes = g_ptr_array_new_with_free_func (node_free);
  run.started_us = g_get_monotonic_time ();
  g_mutex_init (&run.error_lock);
  if (self->events_path != NULL && *self->events_path != '\0')
    {
      run.events_file = fopen (self->events_path, "w");
      if (run.events_file == NULL)
        {
          g_set_error (error, CXR_IO_ERROR, CXR_IO_ERROR_FAILED,
                       "%s: cannot write the events file: %s", self->events_path, g_strerror (errno));
          ok = FALSE;
          goto out;
        }
    }
  run.draw_bar = self->progress == CXR_PROGRESS_BAR ||
                 (self->progress == CXR_PROGRESS_AUTO && isatty (STDERR_FILENO));

  /* The nodes, their queues and who feeds whom. */
  for (GList *l = stages; l; l = l->next)
    {
      Node *node = g_new0 (Node, 1);
      CxrStage *stage = l->data;
      guint n_out = cxr_stage_get_n_ports (stage, CXR_PORT_OUTPUT);

      node->run = &run;
      node->stage = stage;
      node->n_inputs = cxr_stage_get_n_ports (stage, CXR_PORT_INPUT);
      if (node->n_inputs > 0)
        node->queue = queue_new (self->queue_size, node->n_inputs);
      node->ended = g_new0 (gboolean, MAX (node->n_inputs, 1));
      node->outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
      for (guint port = 0; port < n_out; port++)
        g_ptr_array_add (node->outputs, g_array_new (FALSE, FALSE, sizeof (Consumer)));
      node->is_terminal = TRUE;
      g_ptr_array_add (run.nodes, node);
    }
  links = _cxr_pipeline_get_links (self->pipeline);
  for (guint i = 0; i < links->len; i++)
    {
      CxrLink *link = g_ptr_array_index (links, i);
      Node *up = find_node (&run, link->up);
      Node *down = find_node (&run, link->down);
      Consumer consumer = { down->queue, link->down_port, FALSE };
      g_array_append_val (g_ptr_array_index (up->outputs, link->up_port), consumer);
      up->is_terminal = FALSE;
      up->n_consumers++;
      up->n_open_consumers++;
      down->n_linked++;
    }
  for (guint i = 0; i < run.nodes->len; i++)
    node_set_leading (g_ptr_array_index (run.nodes, i), links);

  run_handler = g_cancellable_connect (run.cancellable, G_CALLBACK (run_on_cancelled), &run, NULL);
  if (cancellable != NULL)
    user_handler = g_cancellable_connect (cancellable, G_CALLBACK (forward_cancel),
                                          g_object_ref (run.cancellable), g_object_unref);

  line = event_begin (&run, "start");
  event_add_string (line, "pipeline", cxr_pipeline_get_file (self->pipeline));
  g_string_append (line, ",\"stages\":[");
  for (guint i = 0; i < run.nodes->len; i++)
    {
      if (i)
        g_string_append_c (line, ',');
      _cxr_json_append_string (line, cxr_stage_get_name (((Node *) g_ptr_array_index (run.nodes, i))->stage));
    }
  g_string_append_c (line, ']');
  event_emit (&run, line);

  g_atomic_int_set (&run.running, (gint) run.nodes->len);
  for (guint i = 0; i < run.nodes->len; i++)
    {
      Node *node = g_ptr_array_index (run.nodes, i);
      _cxr_stage_reset_counters (node->stage);
      _cxr_stage_set_cancellable (node->stage, run.cancellable);
      _cxr_stage_set_push_func (node->stage, node_push, node);
    }
  for (guint i = 0; i < run.nodes->len; i++)
    {
      Node *node = g_ptr_array_index (run.nodes, i);
      g_autoptr (GError) thread_error = NULL;
      g_autofree gchar *thread_name = g_strdup_printf ("cxr-%s", cxr_stage_get_name (node->stage));

      node->thread = g_thread_try_new (thread_name, node_thread, node, &thread_error);
      if (node->thread == NULL)
        {
          run_fail (&run, node->stage, thread_error);
          g_atomic_int_add (&run.running, -(gint) (run.nodes->len - i));
          break;
        }
    }

  tick = g_timeout_source_new (self->progress_interval);
  g_source_set_callback (tick, on_progress_tick, &run, NULL);
  g_source_attach (tick, context);

  while (g_atomic_int_get (&run.running) > 0)
    {
      g_main_context_iteration (context, TRUE);
      events_drain (&run);
    }
  for (guint i = 0; i < run.nodes->len; i++)
    {
      Node *node = g_ptr_array_index (run.nodes, i);
      if (node->thread)
        g_thread_join (node->thread);
    }
  events_drain (&run);
  g_source_destroy (tick);
  g_source_unref (tick);

  for (guint i = 0; i < run.nodes->len; i++)
    {
      Node *node = g_ptr_array_index (run.nodes, i);
      _cxr_stage_set_push_func (node->stage, NULL, NULL);
      _cxr_stage_set_cancellable (node->stage, NULL);
    }

  if (run.error != NULL)
    {
      g_propagate_error (error, run.error);
      run.error = NULL;
      ok = FALSE;
      status = "error";
    }
  else if (g_cancellable_is_cancelled (run.cancellable))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED, "the run was cancelled");
      ok = FALSE;
      status = "cancelled";
    }
  else
    {
      ok = TRUE;
      status = "ok";
    }

  emit_progress (&run);
  if (run.draw_bar)
    draw_bar (&run, TRUE);
  line = event_begin (&run, "done");
  event_add_string (line, "status", status);
  event_add_int (line, "samples", (gint64) run_samples_done (&run));
  event_add_number (line, "seconds", seconds_since (run.started_us));
  event_emit (&run, line);

out:
  if (user_handler)
    g_cancellable_disconnect (cancellable, user_handler);
  if (run_handler)
    g_cancellable_disconnect (run.cancellable, run_handler);
  if (run.events_file)
    fclose (run.events_file);
  g_main_context_release (context);
  g_clear_error (&run.error);
  g_mutex_clear (&run.error_lock);
  g_ptr_array_unref (run.nodes);
  g_async_queue_unref (run.events);
  g_object_unref (run.cancellable);
  return ok;
}

/* ------------------------------------------------------------- GObject */

static void
cxr_scheduler_set_gproperty (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  CxrScheduler *self = CXR_SCHEDULER (object);

  switch (prop_id)
    {
    case PROP_PIPELINE:
      self->pipeline = g_value_dup_object (value);
      break;
    case PROP_QUEUE_SIZE:
      self->queue_size = g_value_get_uint (value);
      break;
    case PROP_PROGRESS:
      self->progress = g_value_get_enum (value);
      break;
    case PROP_EVENTS_PATH:
      g_free (self->events_path);
      self->events_path = g_value_dup_string (value);
      break;
    case PROP_PROGRESS_INTERVAL:
      self->progress_interval = g_value_get_uint (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_scheduler_get_gproperty (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  CxrScheduler *self = CXR_SCHEDULER (object);

  switch (prop_id)
    {
    case PROP_PIPELINE:
      g_value_set_object (value, self->pipeline);
      break;
    case PROP_QUEUE_SIZE:
      g_value_set_uint (value, self->queue_size);
      break;
    case PROP_PROGRESS:
      g_value_set_enum (value, self->progress);
      break;
    case PROP_EVENTS_PATH:
      g_value_set_string (value, self->events_path);
      break;
    case PROP_PROGRESS_INTERVAL:
      g_value_set_uint (value, self->progress_interval);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
cxr_scheduler_finalize (GObject *object)
{
  CxrScheduler *self = CXR_SCHEDULER (object);

  g_clear_object (&self->pipeline);
  g_free (self->events_path);
  G_OBJECT_CLASS (cxr_scheduler_parent_class)->finalize (object);
}

static void
cxr_scheduler_class_init (CxrSchedulerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->set_property = cxr_scheduler_set_gproperty;
  object_class->get_property = cxr_scheduler_get_gproperty;
  object_class->finalize = cxr_scheduler_finalize;

  /**
   * CxrScheduler:pipeline:
   *
   * The pipeline the scheduler runs.
   */
  properties[PROP_PIPELINE] =
    g_param_spec_object ("pipeline", "Pipeline", "The pipeline to run", CXR_TYPE_PIPELINE,
                         G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * CxrScheduler:queue-size:
   *
   * How many batches may wait at each input port before the stage that
   * feeds it blocks.
   */
  properties[PROP_QUEUE_SIZE] =
    g_param_spec_uint ("queue-size", "Queue size",
                       "Batches that may wait at each input port before the upstream stage blocks",
                       1, 1024, 4, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * CxrScheduler:progress:
   *
   * Whether to draw a progress bar on stderr.
   */
  properties[PROP_PROGRESS] =
    g_param_spec_enum ("progress", "Progress", "Whether to draw a progress bar on stderr",
                       CXR_TYPE_PROGRESS_MODE, CXR_PROGRESS_AUTO,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * CxrScheduler:events-path:
   *
   * A file to write the run's events to, one JSON object per line, flushed
   * as they happen.
   */
  properties[PROP_EVENTS_PATH] =
    g_param_spec_string ("events-path", "Events path",
                         "A file to write the run's events to, one JSON object per line", NULL,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * CxrScheduler:progress-interval:
   *
   * Milliseconds between progress events and redraws of the bar.
   */
  properties[PROP_PROGRESS_INTERVAL] =
    g_param_spec_uint ("progress-interval", "Progress interval",
                       "Milliseconds between progress events and redraws of the bar", 10, 60000,
                       500, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  /**
   * CxrScheduler::event:
   * @self: the scheduler
   * @json: the event, one JSON object
   *
   * Emitted on the thread that called cxr_scheduler_run() for every event
   * of the run: the same lines #CxrScheduler:events-path receives.
   */
  signals[SIGNAL_EVENT] = g_signal_new ("event", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
cxr_scheduler_init (CxrScheduler *self)
{
  self->queue_size = 4;
  self->progress = CXR_PROGRESS_AUTO;
  self->progress_interval = 500;
}

/**
 * cxr_scheduler_new:
 * @pipeline: the pipeline to run
 *
 * Returns: (transfer full): a new scheduler for @pipeline
 */
CxrScheduler *
cxr_scheduler_new (CxrPipeline *pipeline)
{
  g_return_val_if_fail (CXR_IS_PIPELINE (pipeline), NULL);
  return g_object_new (CXR_TYPE_SCHEDULER, "pipeline", pipeline, NULL);
}

/**
 * cxr_scheduler_get_pipeline:
 * @self: a scheduler
 *
 * Returns: (transfer none): the pipeline the scheduler runs
 */
CxrPipeline *
cxr_scheduler_get_pipeline (CxrScheduler *self)
{
  g_return_val_if_fail (CXR_IS_SCHEDULER (self), NULL);
  return self->pipeline;
}
