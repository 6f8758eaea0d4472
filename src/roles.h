/* The entry point of each role of the featherman binary. Each takes argv with argv[0] = role name
 * and returns the process exit code (0 ok, 1 failure, 2 usage). */
#ifndef FM_ROLES_H
#define FM_ROLES_H
int fm_role_local(int argc, char **argv);
int fm_role_worker(int argc, char **argv);
int fm_role_operator(int argc, char **argv);
int fm_role_gateway(int argc, char **argv);
#endif
