/* outpost.h is C: this file compiles it as C99 with every warning as an error, and the
 * release tree links it against liboutpost.so (capi_c_header_test). */
#include "outpost/outpost.h"

#include <stdio.h>
#include <string.h>

int main(void) {
  outpost_error error = {0};
  outpost_replica* replica = NULL;
  if (outpost_abi_version() != OUTPOST_ABI_VERSION) return 1;
  if (outpost_replica_open(NULL, 3, NULL, &replica, &error) != OUTPOST_INVALID_ARGUMENT) return 2;
  if (error.message == NULL || strlen(error.message) != error.message_len) return 3;
  printf("%s %s: %s\n", outpost_version(), outpost_status_name(error.code), error.message);
  outpost_error_clear(&error);
  return error.message == NULL ? 0 : 4;
}
