/* A minimal agent console in C over liboutpost (pkg-config outpost): opens the replica,
 * syncs, shows today's journal and voicemail, saves a draft offline and sees it sync.
 *
 *   cc agent_console.c $(pkg-config --cflags --libs outpost) -o agent_console
 *   ./agent_console http://127.0.0.1:7420 "$TOKEN" phone.db "Dear Ann, ..."
 */
#include <outpost/outpost.h>

#include <stdio.h>
#include <string.h>

static int check(outpost_status status, outpost_error* error, const char* what) {
  if (status == OUTPOST_OK) return 1;
  fprintf(stderr, "%s: %s: %s\n", what, outpost_status_name(status),
          error->message ? error->message : "");
  outpost_error_clear(error);
  return 0;
}

/* Prints the rows of a read-only SQL statement, one line each. */
static int show(outpost_replica* replica, const char* title, const char* sql) {
  outpost_error error = {0};
  outpost_cursor* cursor = NULL;
  bool has_row = false;
  printf("%s\n", title);
  if (!check(outpost_replica_sql(replica, sql, strlen(sql), NULL, 0, &cursor, &error), &error,
             "sql")) {
    return 0;
  }
  while (outpost_cursor_step(cursor, &has_row, &error) == OUTPOST_OK && has_row) {
    size_t column, len;
    printf(" ");
    for (column = 0; column < outpost_cursor_column_count(cursor); column++) {
      const char* text = outpost_cursor_text(cursor, column, &len);
      if (outpost_cursor_type(cursor, column) == OUTPOST_VALUE_INTEGER) {
        printf(" %lld", (long long)outpost_cursor_int64(cursor, column));
      } else {
        printf(" %.*s", (int)len, text);
      }
    }
    printf("\n");
  }
  outpost_cursor_close(cursor);
  return 1;
}

int main(int argc, char** argv) {
  outpost_agent_options options;
  outpost_agent* agent = NULL;
  outpost_replica* replica;
  outpost_error error = {0};
  outpost_sync_summary summary;
  uint64_t pending = 0;
  const char* body = argc > 4 ? argv[4] : "Dear Ann, thank you for your call.";
  char args[1024];
  int ok = 1;
  if (argc < 4) {
    fprintf(stderr, "usage: %s SERVER_URL TOKEN REPLICA_FILE [DRAFT_TEXT]\n", argv[0]);
    return 2;
  }
  printf("outpost %s (ABI %u)\n", outpost_version(), outpost_abi_version());
  outpost_agent_options_init(&options);
  options.server_url = argv[1];
  options.server_url_len = strlen(argv[1]);
  options.token = argv[2];
  options.token_len = strlen(argv[2]);
  options.replica_path = argv[3];
  options.replica_path_len = strlen(argv[3]);
  if (!check(outpost_agent_open(&options, &agent, &error), &error, "open")) return 1;
  replica = outpost_agent_replica(agent);

  ok = check(outpost_agent_sync_for(agent, 30000, 0, &summary, &error), &error, "sync");
  if (ok) printf("synced: %llu changes\n", (unsigned long long)summary.changes_received);
  ok = ok && show(replica, "today's journal:",
                  "SELECT id, peer_name, subject FROM c_interaction ORDER BY started_ms DESC "
                  "LIMIT 5");
  ok = ok && show(replica, "voicemail:",
                  "SELECT id, caller_name, received_ms FROM c_voicemail "
                  "ORDER BY received_ms DESC LIMIT 5");

  /* The agent is stopped (sync_for started and stopped it): this save is offline. */
  snprintf(args, sizeof args, "{\"draft\": {\"id\": \"console-c\", \"body\": \"%s\"}}", body);
  ok = ok && check(outpost_replica_mutate(replica, OUTPOST_FORMAT_JSON, "save_draft", 10, args,
                                          strlen(args), NULL, &error),
                   &error, "save_draft");
  ok = ok && check(outpost_replica_pending_count(replica, &pending, &error), &error, "pending");
  if (ok) printf("draft saved offline: %llu pending\n", (unsigned long long)pending);
  ok = ok && check(outpost_agent_sync_for(agent, 30000, 0, &summary, &error), &error, "sync");
  ok = ok && check(outpost_replica_pending_count(replica, &pending, &error), &error, "pending");
  if (ok && pending == 0) printf("draft synced\n");
  check(outpost_agent_close(agent, &error), &error, "close");
  return ok && pending == 0 ? 0 : 1;
}
