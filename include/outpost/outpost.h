/* outpost C API: the stable boundary of liboutpost.so for Swift, Kotlin, React Native,
 * Python (ctypes) and any language with a C FFI. Opaque handles for the replica (the local
 * SQLite store the UI reads) and the agent (the device's sync runtime); the C++ engine
 * behind them is not part of the ABI (docs/embedding.md, decision 020).
 *
 * Conventions, for every function below:
 * - It returns an outpost_status: OUTPOST_OK (0) or the error's code. On failure, and only
 *   then, it fills `*error` (when `error` is not NULL) with the code, a UTF-8 message and
 *   whether a retry may succeed; the caller frees it with outpost_error_clear(). Pass a
 *   zeroed or cleared outpost_error. No C++ exception ever crosses this boundary.
 * - Strings in are UTF-8 with an explicit length (they need not be NUL-terminated; a NULL
 *   pointer with length 0 is the empty string). Strings and bytes out are outpost_bytes the
 *   caller frees with outpost_bytes_free(); their data is also NUL-terminated.
 * - Handles are created by *_open and freed by exactly one *_close; a NULL handle argument
 *   is OUTPOST_INVALID_ARGUMENT (close accepts NULL).
 * - Threads: every function may be called from any thread unless it says otherwise; calls
 *   on one handle are serialized by the library. Callbacks run on the thread each one
 *   documents, never while the library holds a lock that a call made from the callback
 *   would need: a callback may call back into the API, except the few functions that say
 *   "not from a callback" (those return OUTPOST_FAILED_PRECONDITION there).
 * - Records travel as JSON (protobuf's JSON mapping with the .proto field names, what
 *   React Native and Python use) or as protobuf bytes (outpost_format); see schema/outpost/
 *   domain.proto and mutations.proto for the messages.
 */
#ifndef OUTPOST_OUTPOST_H
#define OUTPOST_OUTPOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define OUTPOST_API __declspec(dllimport)
#elif defined(__GNUC__)
#define OUTPOST_API __attribute__((visibility("default")))
#else
#define OUTPOST_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------ version */

/* Bumped on every incompatible change of this header (a removed or changed function or
 * struct layout); additions keep it. Compare with outpost_abi_version() at run time. */
#define OUTPOST_ABI_VERSION 1

/* The library's ABI version (OUTPOST_ABI_VERSION it was built with). */
OUTPOST_API uint32_t outpost_abi_version(void);
/* The library's release, "MAJOR.MINOR.PATCH"; a static string, never freed. */
OUTPOST_API const char* outpost_version(void);

/* ------------------------------------------------------------------ errors and memory */

/* The one registry of error codes (engine/status.h), with the same numbers. */
typedef enum outpost_status {
  OUTPOST_OK = 0,
  OUTPOST_INVALID_ARGUMENT = 1, /* malformed input: bad JSON or protobuf, missing field */
  OUTPOST_NOT_FOUND = 2,        /* unknown collection, mutator, key, mutation id */
  OUTPOST_ALREADY_EXISTS = 3,
  OUTPOST_FAILED_PRECONDITION = 4, /* does not fit the current state (e.g. not running) */
  OUTPOST_SCHEMA_TOO_NEW = 5,      /* the file was written by a newer outpost */
  OUTPOST_CORRUPT = 6,             /* not an outpost replica, or damaged */
  OUTPOST_IO = 7,                  /* the file system or SQLite refused */
  OUTPOST_READ_ONLY = 8,           /* a write on a read-only replica or SQL that writes */
  OUTPOST_UNAUTHENTICATED = 9,     /* missing, malformed, forged or expired token */
  OUTPOST_PERMISSION_DENIED = 10,
  OUTPOST_TOO_LARGE = 11,   /* a size bound was exceeded */
  OUTPOST_REJECTED = 12,    /* a mutator refused the arguments (reason attached) */
  OUTPOST_UNAVAILABLE = 13, /* retryable: network, server busy, file busy */
  OUTPOST_CANCELLED = 14,   /* e.g. sync_for's budget ran out first */
  OUTPOST_INTERNAL = 15
} outpost_status;

typedef struct outpost_error {
  outpost_status code;
  char* message; /* UTF-8, NUL-terminated; owned: outpost_error_clear() frees it */
  size_t message_len;
  bool retryable; /* the same call may succeed later (OUTPOST_UNAVAILABLE, busy files) */
} outpost_error;

/* Frees the message and zeroes the struct. NULL is fine. */
OUTPOST_API void outpost_error_clear(outpost_error* error);
/* The registry's name of a code ("not_found"), as the wire protocol sends it. Static. */
OUTPOST_API const char* outpost_status_name(outpost_status code);

typedef struct outpost_bytes {
  char* data; /* owned; NUL-terminated (data[len] == 0) */
  size_t len;
} outpost_bytes;

/* Frees data and zeroes the struct. NULL is fine. */
OUTPOST_API void outpost_bytes_free(outpost_bytes* bytes);

typedef enum outpost_format {
  OUTPOST_FORMAT_JSON = 0, /* protobuf JSON with .proto field names; lists are arrays */
  OUTPOST_FORMAT_PROTO = 1 /* protobuf bytes; lists are length-delimited (varint length,
                              then the message: parseDelimitedFrom / BinaryDelimited) */
} outpost_format;

/* ------------------------------------------------------------------ replica */

typedef struct outpost_replica outpost_replica;

typedef struct outpost_replica_options {
  uint32_t struct_size; /* sizeof(outpost_replica_options): set by _init */
  bool read_only;       /* an existing file, read only (a UI thread, an extension) */
  bool sync_on_commit;  /* synchronous=FULL: survive power loss, not only an app kill */
  const char* tenant;   /* identity on first open (an agent fills it from the token) */
  size_t tenant_len;
  const char* user;
  size_t user_len;
} outpost_replica_options;

/* Defaults: read-write, synchronous=NORMAL, no identity. */
OUTPOST_API void outpost_replica_options_init(outpost_replica_options* options);

/* Opens (creates or migrates) the replica file at `path` with the Mobile Office schema.
 * Several handles and processes may open one file (docs/architecture.md). `options` may
 * be NULL (defaults). Errors: SCHEMA_TOO_NEW, CORRUPT (file untouched), IO, INVALID_ARGUMENT. */
OUTPOST_API outpost_status outpost_replica_open(const char* path, size_t path_len,
                                                const outpost_replica_options* options,
                                                outpost_replica** out, outpost_error* error);
/* Closes the handle (and its cursors' replica reference). Not for the handle
 * outpost_agent_replica() lends. Not from a callback of this handle. NULL is fine. */
OUTPOST_API outpost_status outpost_replica_close(outpost_replica* replica, outpost_error* error);

/* Runs the named mutator with `args` (a mutations.proto message, JSON or protobuf) and
 * appends it to the outbox in one transaction: when this returns OK the change survives an
 * app kill. `mutation_id` (may be NULL) receives the outbox id. Subscribers of the handle
 * are told before it returns (see the notifications below). On an agent's replica the
 * agent pushes it at once. Errors: NOT_FOUND (unknown mutator), INVALID_ARGUMENT (args),
 * REJECTED (the mutator refused), READ_ONLY, IO, UNAVAILABLE (file busy): nothing changed. */
OUTPOST_API outpost_status outpost_replica_mutate(outpost_replica* replica, outpost_format format,
                                                  const char* name, size_t name_len,
                                                  const char* args, size_t args_len,
                                                  uint64_t* mutation_id, outpost_error* error);

/* One record by collection and key. `found` false (and `out` empty) when absent.
 * Errors: NOT_FOUND for an unknown collection, IO. */
OUTPOST_API outpost_status outpost_replica_get(outpost_replica* replica, outpost_format format,
                                               const char* collection, size_t collection_len,
                                               const char* key, size_t key_len, outpost_bytes* out,
                                               bool* found, outpost_error* error);

/* A typed query, described in JSON:
 *   {"collection": "voicemail",
 *    "where": [{"column": "read", "op": "=", "value": false}],   ops: = != < <= > >=
 *    "order_by": "received_ms", "descending": true, "limit": 50}
 * (order_by empty: the collection's default order; limit 0: all). `out` receives the
 * records (a JSON array, or length-delimited protobuf). Errors: INVALID_ARGUMENT (spec),
 * NOT_FOUND (collection or column), IO. */
OUTPOST_API outpost_status outpost_replica_query(outpost_replica* replica, outpost_format format,
                                                 const char* spec_json, size_t spec_len,
                                                 outpost_bytes* out, outpost_error* error);

/* "Contains" search over the collection's searchable fields (at least 3 characters).
 * `order_by` may be empty (default order); `limit` 0 means 50. */
OUTPOST_API outpost_status outpost_replica_search(outpost_replica* replica, outpost_format format,
                                                  const char* collection, size_t collection_len,
                                                  const char* text, size_t text_len,
                                                  const char* order_by, size_t order_by_len,
                                                  bool descending, uint32_t limit,
                                                  outpost_bytes* out, outpost_error* error);

/* ---- read-only SQL over the same tables (c_<collection>, f_<collection>) */

typedef struct outpost_cursor outpost_cursor;

typedef enum outpost_value_type {
  OUTPOST_VALUE_NULL = 0,
  OUTPOST_VALUE_INTEGER = 1,
  OUTPOST_VALUE_REAL = 2,
  OUTPOST_VALUE_TEXT = 3
} outpost_value_type;

/* Runs `sql` (one statement that only reads) with `params_json`, a JSON array of values
 * bound to ?1, ?2, ... (may be NULL/0). The rows are read when the cursor opens (a
 * snapshot: later commits do not move it); step through them with outpost_cursor_step.
 * Errors: READ_ONLY (the statement would write), INVALID_ARGUMENT (bad SQL or params). */
OUTPOST_API outpost_status outpost_replica_sql(outpost_replica* replica, const char* sql,
                                               size_t sql_len, const char* params_json,
                                               size_t params_len, outpost_cursor** out,
                                               outpost_error* error);
/* Moves to the next row: *has_row false past the last one. A cursor belongs to one thread
 * at a time (distinct cursors: safe; one cursor: unsafe). */
OUTPOST_API outpost_status outpost_cursor_step(outpost_cursor* cursor, bool* has_row,
                                               outpost_error* error);
OUTPOST_API size_t outpost_cursor_column_count(const outpost_cursor* cursor);
/* The column's name; the pointer lives as long as the cursor. NULL past the last column. */
OUTPOST_API const char* outpost_cursor_column_name(const outpost_cursor* cursor, size_t column,
                                                   size_t* len);
/* The current row's values (after a step that returned a row). Out of range or before the
 * first step: NULL type, 0, empty text. Text lives until the next step or close. */
OUTPOST_API outpost_value_type outpost_cursor_type(const outpost_cursor* cursor, size_t column);
OUTPOST_API int64_t outpost_cursor_int64(const outpost_cursor* cursor, size_t column);
OUTPOST_API double outpost_cursor_double(const outpost_cursor* cursor, size_t column);
OUTPOST_API const char* outpost_cursor_text(const outpost_cursor* cursor, size_t column,
                                            size_t* len);
/* NULL is fine. */
OUTPOST_API void outpost_cursor_close(outpost_cursor* cursor);

/* ---- the outbox and rejected mutations */

/* Mutations not yet confirmed by the server. */
OUTPOST_API outpost_status outpost_replica_pending_count(outpost_replica* replica, uint64_t* count,
                                                         outpost_error* error);
/* Mutations the server refused, kept until discarded, as a JSON array:
 *   [{"id": 7, "name": "wrap_up", "args": {...}, "created_ms": ..., "code": "rejected",
 *     "reason": "..."}]   ("args" in JSON whatever the format of the original call). */
OUTPOST_API outpost_status outpost_replica_rejected(outpost_replica* replica, outpost_bytes* out,
                                                    outpost_error* error);
/* Runs rejected mutation `rejected_id` again, with its stored arguments (args NULL/0) or
 * edited ones of the same mutator; the new mutation enters the outbox and the rejected
 * item leaves, in one transaction. Errors as mutate; NOT_FOUND for an unknown id. */
OUTPOST_API outpost_status outpost_replica_retry_rejected(outpost_replica* replica,
                                                          uint64_t rejected_id,
                                                          outpost_format format, const char* args,
                                                          size_t args_len, uint64_t* mutation_id,
                                                          outpost_error* error);
/* The user gave up on it. NOT_FOUND for an unknown id. */
OUTPOST_API outpost_status outpost_replica_discard_rejected(outpost_replica* replica,
                                                            uint64_t rejected_id,
                                                            outpost_error* error);

/* ---- change notifications
 * A change set is JSON: {"keys": {"voicemail": ["vm-1", ...], ...}, "outbox_changed": b,
 * "rejections_changed": b, "cursors_changed": b, "everything_changed": b}
 * (everything_changed: another process changed more than can be told key by key).
 *
 * Two ways to hear of them, per subscription:
 * - outpost_replica_subscribe: `fn` runs with each change set. Thread: an agent's
 *   replica calls it on the agent's loop thread while the agent runs (the thread that made
 *   the change when it is stopped); a standalone replica on the thread whose call
 *   committed (mutate, refresh), just before that call returns. Keep it short.
 * - outpost_replica_subscribe_pending: `signal` runs (on those same threads) when changes
 *   arrive and none were waiting; the app then calls outpost_replica_drain_changes from
 *   its own thread (its main thread) and gets everything since its last drain, merged.
 * After unsubscribe returns, the callback is not running and will not run again (unless
 * unsubscribe was called from inside it). */
typedef void (*outpost_changes_fn)(void* user_data, const char* changes_json, size_t len);
typedef void (*outpost_signal_fn)(void* user_data);

OUTPOST_API outpost_status outpost_replica_subscribe(outpost_replica* replica,
                                                     outpost_changes_fn fn, void* user_data,
                                                     uint64_t* subscription, outpost_error* error);
OUTPOST_API outpost_status outpost_replica_subscribe_pending(outpost_replica* replica,
                                                             outpost_signal_fn signal,
                                                             void* user_data,
                                                             uint64_t* subscription,
                                                             outpost_error* error);
/* The merged change set waiting for `subscription` (a pending one); *had_changes false and
 * `out` empty when nothing waited. NOT_FOUND for an unknown subscription. */
OUTPOST_API outpost_status outpost_replica_drain_changes(outpost_replica* replica,
                                                         uint64_t subscription, outpost_bytes* out,
                                                         bool* had_changes, outpost_error* error);
OUTPOST_API outpost_status outpost_replica_unsubscribe(outpost_replica* replica,
                                                       uint64_t subscription, outpost_error* error);
/* Reads what other processes (an app extension, the CLI) committed to the file since this
 * handle last looked and tells the subscribers. An agent does this by itself every 50 ms. */
OUTPOST_API outpost_status outpost_replica_refresh(outpost_replica* replica, outpost_error* error);

/* ------------------------------------------------------------------ agent */

typedef struct outpost_agent outpost_agent;

typedef enum outpost_agent_state {
  OUTPOST_AGENT_STOPPED = 0,
  OUTPOST_AGENT_CONNECTING = 1,
  OUTPOST_AGENT_CONNECTED = 2, /* syncing or live */
  OUTPOST_AGENT_BACKOFF = 3,   /* waiting before the next attempt (wake() cuts it short) */
  OUTPOST_AGENT_FAILED = 4     /* a non-retryable error (or waiting for a token) */
} outpost_agent_state;

typedef enum outpost_sync_phase {
  OUTPOST_PHASE_IDLE = 0,     /* up to date, nothing to send */
  OUTPOST_PHASE_PUSHING = 1,  /* sending pending mutations */
  OUTPOST_PHASE_INITIAL = 2,  /* first download of a scope (snapshot, urgent first) */
  OUTPOST_PHASE_CATCH_UP = 3, /* following the change log */
  OUTPOST_PHASE_RESET = 4     /* behind the compaction horizon: per-key reset */
} outpost_sync_phase;

typedef struct outpost_progress {
  outpost_sync_phase phase;
  uint64_t pending_mutations;
  uint64_t mutations_confirmed; /* this session */
  uint64_t mutations_rejected;  /* this session */
  uint64_t changes_received;    /* since the agent was opened */
  uint64_t connects;
} outpost_progress;

/* Agent thread. `why` is NULL, or the error behind BACKOFF/FAILED (borrowed for the call). */
typedef void (*outpost_state_fn)(void* user_data, outpost_agent_state state,
                                 const outpost_error* why, uint64_t delay_ms);
/* Agent thread, after each applied response or phase change. */
typedef void (*outpost_progress_fn)(void* user_data, const outpost_progress* progress);
/* Agent thread, when the server refused the token (expired, revoked). Give a new one with
 * outpost_agent_set_token(), inside the callback or later from any thread (when the app's
 * login answered): the agent reconnects with it at once, and sync resumes with nothing
 * lost. Until then the agent waits in FAILED. */
typedef void (*outpost_credentials_fn)(void* user_data, outpost_agent* agent,
                                       const outpost_error* why);

typedef struct outpost_agent_options {
  uint32_t struct_size;   /* sizeof(outpost_agent_options): set by _init */
  const char* server_url; /* "http://host:port" */
  size_t server_url_len;
  const char* token; /* bearer token from the app's login; tenant and user come from it */
  size_t token_len;
  const char* replica_path; /* the replica file (opened, created or migrated) */
  size_t replica_path_len;
  bool sync_on_commit;
  bool urgent_first;           /* urgent records first (a woken app with little time) */
  uint32_t backoff_base_ms;    /* reconnect backoff, full jitter; 0: 250 */
  uint32_t backoff_max_ms;     /* 0: 30000 */
  uint32_t connect_timeout_ms; /* 0: 5000 */
  /* TLS, for https:// and wss:// servers: the certificate chain and host name are verified
   * before anything is sent; a refusal is OUTPOST_FAILED_PRECONDITION "untrusted server:
   * ...". Both empty: the system's trust store. Set with an http:// server, or a file that
   * cannot be read: OUTPOST_INVALID_ARGUMENT at open. */
  const char* tls_ca_path; /* a PEM file of CAs to trust instead of the system store */
  size_t tls_ca_path_len;
  const char* tls_pinned_cert_pem; /* accept exactly this server certificate (PEM) */
  size_t tls_pinned_cert_pem_len;
  outpost_state_fn on_state;
  void* on_state_user_data;
  outpost_progress_fn on_progress;
  void* on_progress_user_data;
  outpost_credentials_fn on_credentials;
  void* on_credentials_user_data;
} outpost_agent_options;

OUTPOST_API void outpost_agent_options_init(outpost_agent_options* options);

/* Opens the replica at options->replica_path for the token's user and prepares the agent
 * (stopped). Errors: UNAUTHENTICATED (malformed token), INVALID_ARGUMENT (URL, options),
 * FAILED_PRECONDITION (the file belongs to another user), and those of replica_open. */
OUTPOST_API outpost_status outpost_agent_open(const outpost_agent_options* options,
                                              outpost_agent** out, outpost_error* error);
/* Stops the agent and frees it (and the replica handle it lent). Not from a callback. */
OUTPOST_API outpost_status outpost_agent_close(outpost_agent* agent, outpost_error* error);

/* The agent's replica: reads and mutations run on the agent's thread (serialized with
 * sync), mutations are pushed at once. Borrowed: valid until outpost_agent_close; do not
 * close it. Any thread. */
OUTPOST_API outpost_replica* outpost_agent_replica(outpost_agent* agent);

/* Connect, push, pull, stay live (reconnecting with backoff). FAILED_PRECONDITION when
 * running. Not from a callback. */
OUTPOST_API outpost_status outpost_agent_start(outpost_agent* agent, outpost_error* error);
/* Closes the connection and joins the agent's threads; the replica stays open and
 * consistent. Idempotent. Not from a callback. */
OUTPOST_API outpost_status outpost_agent_stop(outpost_agent* agent, outpost_error* error);
/* Sync now (a push notification arrived): cancels a backoff wait or a failure. A no-op
 * when stopped. `reason` is only reported. Any thread, callbacks included. */
OUTPOST_API outpost_status outpost_agent_wake(outpost_agent* agent, const char* reason,
                                              size_t reason_len, outpost_error* error);
/* Replaces the token (same tenant and user: FAILED_PRECONDITION otherwise;
 * UNAUTHENTICATED when malformed). Any thread, callbacks included. */
OUTPOST_API outpost_status outpost_agent_set_token(outpost_agent* agent, const char* token,
                                                   size_t token_len, outpost_error* error);

typedef struct outpost_sync_summary {
  bool caught_up;        /* outbox pushed and answered, every scope at the head seen */
  bool budget_exhausted; /* the budget ran out first (the call returns CANCELLED) */
  uint64_t elapsed_ms;
  uint64_t changes_received; /* during this call */
  uint64_t mutations_pushed;
  outpost_progress progress;
} outpost_sync_summary;

/* For a background task woken with little time: syncs until up to date or `budget_ms`
 * passes, starting the agent if stopped (and stopping it again). Blocks the calling
 * thread; `summary` (may be NULL) says what it did, also on failure. `max_failures`: give
 * up after that many failed attempts in a row (0: use the whole budget). Errors:
 * CANCELLED (budget ran out), the agent's error when it failed. Not from a callback. */
OUTPOST_API outpost_status outpost_agent_sync_for(outpost_agent* agent, uint32_t budget_ms,
                                                  uint32_t max_failures,
                                                  outpost_sync_summary* summary,
                                                  outpost_error* error);

/* The current state; `last_error` (may be NULL) receives the last error if there is one
 * (the caller clears it). Any thread. */
OUTPOST_API outpost_status outpost_agent_state_get(outpost_agent* agent, outpost_agent_state* state,
                                                   outpost_error* last_error, outpost_error* error);
OUTPOST_API outpost_status outpost_agent_progress_get(outpost_agent* agent,
                                                      outpost_progress* progress,
                                                      outpost_error* error);
/* The state's name ("connected"). Static. */
OUTPOST_API const char* outpost_agent_state_name(outpost_agent_state state);

/* ------------------------------------------------------------------ blobs (voicemail audio)
 * Blobs (the audio of a voicemail, attachments) travel apart from records and never hold
 * them up (docs/protocol.md section 9). The agent keeps them in a cache directory beside its
 * replica (replica_path + ".blobs", 256 MiB, least recently used evicted; today's unheard
 * voicemail is never evicted), and hashes every one (SHA-256) before handing it out.
 *
 * Progress callbacks run on the thread that made the call, between pieces of a download
 * (256 KiB each), with the bytes the device holds and the blob's size; returning false
 * cancels the rest of the download (the call returns OUTPOST_CANCELLED; what arrived is
 * kept and the next call resumes from it, as after an app kill; after the last piece there
 * is no rest and the call succeeds). */
typedef bool (*outpost_blob_progress_fn)(void* user_data, uint64_t done, uint64_t total);

/* The path (UTF-8, in `path`) of the verified audio file of voicemail `voicemail_id`:
 * the cached copy, offline too, else downloaded from the agent's server with its token and
 * TLS trust (resuming a download that an app kill cut). Play the file or copy it before the
 * next call that may evict it. Playing does not mark the voicemail read: mutate
 * "mark_voicemail_read" when the user listened. `progress` may be NULL.
 * Blocks for the download: call it from a worker thread (not the UI thread), not from a
 * callback (FAILED_PRECONDITION). Several threads may call it at once; two downloads of
 * one blob wait for each other. Errors: NOT_FOUND (no such voicemail, or it has no
 * audio), UNAVAILABLE (not cached and the server cannot be reached: retry when online),
 * CORRUPT (the bytes did not verify; the next call downloads again), CANCELLED,
 * PERMISSION_DENIED (the server no longer lets this user read it), FAILED_PRECONDITION
 * (an https server the agent does not trust). */
OUTPOST_API outpost_status outpost_agent_voicemail_audio(outpost_agent* agent,
                                                         const char* voicemail_id,
                                                         size_t voicemail_id_len,
                                                         outpost_blob_progress_fn progress,
                                                         void* progress_user_data,
                                                         outpost_bytes* path, outpost_error* error);

typedef struct outpost_prefetch_summary {
  uint64_t fetched;        /* downloaded now */
  uint64_t already_cached; /* on the device before */
  uint64_t left_for_later; /* the budget ran out first (a cut download keeps its part) */
  uint64_t failed;         /* the call returns the last failure's error */
  uint64_t bytes;          /* downloaded now */
} outpost_prefetch_summary;

/* What a woken app on an unmetered network does after outpost_agent_sync_for: downloads
 * the audio of new unheard voicemail (received today or in the last 24 hours), newest
 * first, until `budget_ms` passes, so the user can play it offline later; then evicts
 * the cache down to its size (today's unheard voicemail stays). `summary` may be NULL.
 * Blocks: a worker thread, not from a callback. OK also when the budget left some for
 * later (see the summary); errors: the last failed download's (UNAVAILABLE offline...). */
OUTPOST_API outpost_status outpost_agent_prefetch_voicemail(outpost_agent* agent,
                                                            uint32_t budget_ms,
                                                            outpost_prefetch_summary* summary,
                                                            outpost_error* error);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* OUTPOST_OUTPOST_H */
