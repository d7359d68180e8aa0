/* Runs every unit suite linked into the binary; exit status 0 only if all pass. */
#include <stdlib.h>
#include "suites.h"

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define HFS_ADD(n)                                                                                 \
    if (suite_##n) srunner_add_suite(sr, suite_##n());
    HFS_SUITES(HFS_ADD)
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
