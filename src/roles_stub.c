/* placeholders until the roles exist; removed as each role lands */
#include <stdio.h>

#include "roles.h"
int fm_role_local(int argc, char **argv) { (void)argc, (void)argv; fputs("local: not built yet\n", stderr); return 1; }
int fm_role_worker(int argc, char **argv) { (void)argc, (void)argv; fputs("worker: not built yet\n", stderr); return 1; }
