/* SPDX-License-Identifier: Apache-2.0 */
/* Meta-learned performance models (the Morphling paper's method): a small multilayer perceptron
 * over the encoded configuration, meta-trained on many services' configuration->performance
 * surfaces (Reptile, first-order MAML or second-order MAML) so that a few gradient steps on a new
 * service's samples fit its surface; an ensemble of such networks gives an uncertainty estimate.
 * Also the model file format (docs/internals/meta.md) and tasks built from surface CSVs or from
 * recorded experiments' trials (the CLI reads them from the store and hands them down).
 *
 * Inputs are aligned by parameter name, else by parameter role (`role: batch_size` lines up a
 * service's max_batch with the model's batchsize): every numeric feature is scaled by the model's
 * own range (log for wide positive ranges), so a space with other levels still maps consistently,
 * and a categorical one becomes a one-hot block by choice name (an unknown choice is all zeros).
 * Objectives are normalised per service: training divides by the largest |value| of the service,
 * adaptation by the largest |value| observed so far, so the model predicts shapes, not scales.
 * Besides the networks, a model remembers the training services' mean normalised value at every
 * configuration they measured (its *memory*): what they share beyond the smooth shape the
 * networks learn, such as one configuration that is best for several of them.
 *
 * Ownership: a model owns its features, weights and memory; a binding borrows its model and
 * space, which must outlive it; tasks own their arrays. Functions borrow their other arguments.
 * Thread-safety: a loaded model is immutable and may be read from several threads; a binding
 * holds scratch space, so each thread needs its own; training and adaptation are
 * single-threaded and deterministic for a given seed. */
#ifndef MP_META_H
#define MP_META_H

#include "core/core.h"
#include "space/space.h"
#include "surface/surface.h"
#include "trial/trial.h"

#define MP_META_FORMAT_VERSION 3 /* written; versions 1 (no roles) and 2 (no memory) are read */
#define MP_META_MAX_FEATURES   64
#define MP_META_MAX_CHOICES    256
#define MP_META_MAX_NAME       256  /* bytes of a parameter name or choice */
#define MP_META_MAX_LR         10.0 /* adaptation rate, as algorithm.settings.adapt_lr */
#define MP_META_MAX_HIDDEN     512
#define MP_META_MAX_MEMBERS    16
#define MP_META_MAX_FILE_BYTES (64u << 20)
/* Largest |weight| (and |memory number|) of a model: training ends far below (Adam moves a
 * weight by about its step size, 0.002, per iteration; memory numbers lie in [-1, 1]) and
 * refuses a model beyond it; the reader refuses a file beyond it, where 1e300 passed the
 * checksum and made every prediction inf or NaN. Within it, the forward pass stays finite for
 * inputs of any sane magnitude. */
#define MP_META_MAX_WEIGHT 1e6
/* Configurations a model remembers at most; training keeps no memory when there would be more,
 * or when it would take over 32 MiB. */
#define MP_META_MAX_MEMORY (1u << 20)
/* Bytes of the training points' network inputs, all tasks together: one input per numeric
 * parameter and one per choice of a categorical one, so 10^6 rows with 256 choices would take
 * 2 GiB. Training refuses more (MP_ETOOBIG). */
#define MP_META_MAX_TRAIN_BYTES ((size_t)256 << 20)

/* --- network ------------------------------------------------------------------------------- */

/* A fully connected network n_in -> hidden -> hidden -> 1 with tanh hidden units. Weights live
 * in one flat array of mp_net_size() doubles: W1 (hidden x n_in, row-major), b1, W2 (hidden x
 * hidden), b2, w3 (hidden), b3. */
struct mp_net {
    size_t n_in, hidden;
};
size_t mp_net_size(const struct mp_net *net);
/* Glorot-uniform weights, zero biases. */
void mp_net_init(const struct mp_net *net, struct mp_rng *rng, double *theta);
/* Output for one input vector. */
double mp_net_forward(const struct mp_net *net, const double *theta, const double *in);
/* Weighted mean squared error over n points (weights NULL: all 1), 0.5 * sum w (f - y)^2 /
 * sum w; adds its gradient to grad (when non-NULL). Returns the loss. */
double mp_net_loss_grad(const struct mp_net *net, const double *theta, const double *in,
                        const double *y, const double *w, size_t n, double *grad);
/* steps of full-batch gradient descent with rate lr on (in, y, w), in place on theta. When a
 * step makes a weight infinite or NaN (a rate too large for the data), theta is left as it was
 * given. */
void mp_net_adapt(const struct mp_net *net, double *theta, const double *in, const double *y,
                  const double *w, size_t n, double lr, unsigned steps);

/* --- features ------------------------------------------------------------------------------ */

enum mp_meta_kind { MP_META_NUMERIC = 0, MP_META_CATEGORICAL = 1 };

struct mp_meta_feature {
    char *name;
    char *role; /* the parameter's role (mp_param_roles) or NULL: aligns other names */
    enum mp_meta_kind kind;
    bool log_scale; /* NUMERIC: encode log(v) */
    double lo, hi;  /* NUMERIC: natural range seen in training */
    char **choices; /* CATEGORICAL: one input per choice */
    size_t n_choices;
};

/* --- tasks --------------------------------------------------------------------------------- */

/* One service: points in a shared feature layout (natural values per feature, categorical as a
 * choice index into the feature's choices) and their normalised objective. */
struct mp_meta_task {
    char *name;
    size_t n;  /* points */
    double *x; /* n * n_features natural values (feature order) */
    double *y; /* n objective values, larger is better, divided by max |y| */
};

/* Growing set of tasks that share a feature layout (fixed by the first task added). */
struct mp_meta_taskset {
    struct mp_meta_feature *features;
    size_t n_features;
    struct mp_meta_task *tasks;
    size_t n_tasks;
};
#define MP_META_TASKSET_INIT                                                                       \
    {                                                                                              \
        NULL, 0, NULL, 0                                                                           \
    }
void mp_meta_taskset_release(struct mp_meta_taskset *ts);
/* Adds n configurations of a space (natural values) with their scores (larger is better; NAN
 * when the row says nothing: skipped; -INFINITY for a failed configuration, measured or not,
 * which is trained at the task's lowest measured score so that the prior ranks it last). The
 * first task fixes the features (names and roles); a later task's parameter joins the
 * feature of the same name, else the one of the same role (a role a feature lacks is adopted
 * from the first task that gives it). Another parameter set, a kind mismatch, conflicting
 * roles or a name or choice longer than MP_META_MAX_NAME bytes (the model file could not hold
 * it) fail with MP_EINVALID naming the parameter. Fewer than 2 valued rows, or all zero:
 * MP_EINVALID. A refused task leaves the set as it was. */
int mp_meta_taskset_add(struct mp_meta_taskset *ts, const char *name, const struct mp_space *space,
                        const double *x, const double *score, size_t n,
                        struct mp_error *err) MP_WUR;
/* How a surface CSV becomes a task. */
struct mp_meta_surface_opts {
    const char *objective;     /* column; NULL: mp_surface_columns' default */
    bool minimize;             /* the objective is minimised */
    const char *const *params; /* parameter columns; NULL: from the header (mp_surface_columns) */
    size_t n_params;
    const char *const *roles; /* "COLUMN=ROLE" entries (mp_surface_set_roles), may be NULL */
    size_t n_roles;
};
/* Adds a surface CSV; a row with a non-empty "failure" cell is a failed configuration (-INFINITY
 * above) unless the class is INFRA (skipped). MP_EINVALID when the columns are not usable
 * (mp_surface_columns). */
int mp_meta_taskset_add_surface(struct mp_meta_taskset *ts, const struct mp_surface *s,
                                const struct mp_meta_surface_opts *o, struct mp_error *err) MP_WUR;
/* One trial of a recorded experiment, as the caller read it (from the store). */
struct mp_meta_trial {
    const double *x; /* configuration, natural values in the space's order; NULL: unreadable */
    enum mp_trial_state state;
    enum mp_failure failure;
    double value; /* the objective as measured; NAN when none */
};
/* Adds a finished experiment's trials as a task called name when it has at least min_points
 * usable trials, two of them valued: succeeded ones with a finite value (negated when
 * minimize), and failed ones other than INFRA, which are failed configurations as above.
 * Returns true when added; false when skipped (too few usable trials, parameters that differ
 * from the set's). */
bool mp_meta_taskset_add_trials(struct mp_meta_taskset *ts, const char *name,
                                const struct mp_space *space, bool minimize,
                                const struct mp_meta_trial *trials, size_t n, size_t min_points);

/* --- model --------------------------------------------------------------------------------- */

enum mp_meta_method { MP_META_REPTILE = 0, MP_META_FOMAML = 1, MP_META_MAML = 2 };
const char *mp_meta_method_name(enum mp_meta_method m);
int mp_meta_method_parse(const char *name); /* enum value or MP_EINVALID */

struct mp_meta_train_opts {
    enum mp_meta_method method;
    uint64_t seed;       /* at most INT64_MAX */
    size_t hidden;       /* units per hidden layer */
    size_t members;      /* independently meta-trained networks (ensemble) */
    size_t iterations;   /* outer steps per member */
    size_t meta_batch;   /* tasks per outer step */
    size_t support_max;  /* support points per task: 1..support_max */
    size_t query;        /* query points per task */
    double top_fraction; /* half of each sample comes from this best fraction of the task */
    unsigned inner_steps;
    double inner_lr;
    double outer_lr; /* Adam step size */
    /* Called every 100 outer steps and after the last with the steps done and the total
     * (members * iterations); NULL: none. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
};
/* Defaults chosen by the comparison in docs/internals/meta.md. */
void mp_meta_train_opts_default(struct mp_meta_train_opts *o);

struct mp_meta_model {
    struct mp_meta_feature *features;
    size_t n_features;
    struct mp_net net;
    size_t members;
    double *theta; /* members * mp_net_size() */
    /* adaptation recipe (the one used in the inner loop of training) */
    unsigned adapt_steps;
    double adapt_lr;
    /* provenance */
    enum mp_meta_method method;
    uint64_t seed;
    size_t n_tasks;
    double train_loss;       /* mean query loss after adaptation, last 10 % of training */
    unsigned format_version; /* of the file it was read from; MP_META_FORMAT_VERSION if trained */
    /* Memory: n_memory entries of n_in inputs then the mean normalised value of the training
     * points with exactly those inputs, in ascending lexicographic order of the inputs. Empty
     * when read from a file before version 3. */
    size_t n_memory;
    double *memory;
};

/* Meta-trains a model on the task set (at least one task). Deterministic for a given seed.
 * MP_ETOOBIG when the encoded points, or the training's own buffers (samples, gradient state),
 * would exceed MP_META_MAX_TRAIN_BYTES, or the model's file MP_META_MAX_FILE_BYTES (checked
 * before training). */
int mp_meta_train(const struct mp_meta_taskset *ts, const struct mp_meta_train_opts *o,
                  struct mp_meta_model **out, struct mp_error *err) MP_WUR;
void mp_meta_model_free(struct mp_meta_model *m);
/* The memory's value at these network inputs (mp_meta_binding_encode); false when no training
 * service measured that configuration. */
bool mp_meta_memory_lookup(const struct mp_meta_model *m, const double *in, double *value);
/* Whether the memory's entries are in strictly ascending order of inputs (what lookup needs). */
bool mp_meta_memory_sorted(const struct mp_meta_model *m);
/* Number of network inputs (one per numeric feature, one per choice of categorical ones). */
size_t mp_meta_inputs(const struct mp_meta_feature *f, size_t n_features);
/* Encodes natural feature values (feature order) to network inputs. */
void mp_meta_encode(const struct mp_meta_feature *f, size_t n_features, const double *x,
                    double *in);

/* One outer gradient of the meta-objective for one task split, for tests: adapts theta on the
 * support set with the model's inner loop and returns the query loss after adaptation; adds
 * the method's meta-gradient (Reptile: (theta - theta') / (lr * steps)) to grad. */
double mp_meta_task_grad(const struct mp_net *net, enum mp_meta_method method, const double *theta,
                         const double *s_in, const double *s_y, size_t ns, const double *q_in,
                         const double *q_y, size_t nq, double inner_lr, unsigned inner_steps,
                         double *grad);

/* --- file ---------------------------------------------------------------------------------- */

/* Bytes of the model's file (mp_meta_model_encode's output), without encoding it. */
uint64_t mp_meta_model_file_bytes(const struct mp_meta_model *m);
/* Serialises the model (format in docs/internals/meta.md). Returns owned bytes. */
void mp_meta_model_encode(const struct mp_meta_model *m, struct mp_buf *out);
/* Parses a model file's bytes; MP_EINVALID with a precise reason when corrupt or of another
 * version. */
int mp_meta_model_decode(const void *data, size_t len, const char *name, struct mp_meta_model **out,
                         struct mp_error *err) MP_WUR;
/* Writes a temporary file beside path and renames it over path; MP_EINVALID when something
 * other than a regular file is at path (a device, a FIFO, a folder), which it would replace. */
int mp_meta_model_save(const struct mp_meta_model *m, const char *path,
                       struct mp_error *err) MP_WUR;
int mp_meta_model_load(const char *path, struct mp_meta_model **out, struct mp_error *err) MP_WUR;

/* --- use on a search space ----------------------------------------------------------------- */

/* Maps configurations of a space (natural values) to the model's inputs. */
struct mp_meta_binding;
/* Every feature takes the space parameter of the same name, else the (first unclaimed) one of
 * the same role. MP_EINVALID, naming the parameter, when a feature finds no parameter, a
 * parameter is claimed by no feature, or the kinds differ. */
int mp_meta_bind(const struct mp_meta_model *m, const struct mp_space *space,
                 struct mp_meta_binding **out, struct mp_error *err) MP_WUR;
void mp_meta_binding_free(struct mp_meta_binding *b);
/* Network inputs of configuration x (mp_meta_inputs() values). */
void mp_meta_binding_encode(const struct mp_meta_binding *b, const double *x, double *in);
size_t mp_meta_binding_inputs(const struct mp_meta_binding *b);
/* Index of the space parameter bound to model feature `feature` (-1 when out of range). */
int mp_meta_binding_param(const struct mp_meta_binding *b, size_t feature);

/* What in a binding is likely a mistake no error catches: a numeric parameter whose every value
 * lies outside the range the model learned for its feature (another unit: memory in GiB for a
 * model of MiB, millicores for cores), where its predictions only extrapolate, or a categorical
 * parameter none of whose choices the model knows (another spelling: `t4` for `T4`), which it
 * predicts as if the parameter did not matter. Writes them into buf (len bytes, "; " between
 * them) and returns true; false and an empty buf when there is none. */
bool mp_meta_binding_mismatch(const struct mp_meta_binding *b, char *buf, size_t len);

/* Prior mean of configuration x of the bound space: the ensemble mean of the meta-trained
 * (unadapted) networks, in normalised units (the best configuration of a typical service is
 * about 1). This is what `bo` uses as its prior mean, scaled to its data. */
double mp_meta_prior_mean(const struct mp_meta_binding *b, const double *x);

#endif
