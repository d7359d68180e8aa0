/* core/file/elfdyn.h: the dynamic section the library view follows (DT_NEEDED, RPATH, RUNPATH). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "suites.h"
#include "tmpdir.h"
#include "elfdyn.h"

static char g_dir[PATH_MAX];

static void setup(void)
{
    hfs_ut_mkdtemp(g_dir, sizeof g_dir, "elfdyn");
}

static void teardown(void)
{
    hfs_ut_rmtree(g_dir);
}

/* A copy of the first n bytes of this test program (n = 0: all of it). */
static int copy_self(size_t n, const char *name)
{
    char p[PATH_MAX + 32], buf[65536];
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    int in = open("/proc/self/exe", O_RDONLY), out = open(p, O_RDWR | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(in, 0);
    ck_assert_int_ge(out, 0);
    size_t done = 0;
    ssize_t r;
    while ((!n || done < n) &&
           (r = read(in, buf, n && n - done < sizeof buf ? n - done : sizeof buf)) > 0) {
        ck_assert_int_eq(write(out, buf, (size_t)r), r);
        done += (size_t)r;
    }
    close(in);
    return out;
}

START_TEST(reads_needed_of_an_executable)
{
    int fd = open("/proc/self/exe", O_RDONLY);
    hfs_elfdyn d;
    ck_assert_int_eq(hfs_elf_dyn(fd, &d), 0);
    int libc = 0;
    for (int i = 0; i < d.nneeded; i++) libc |= !strcmp(d.needed[i], "libc.so.6");
    ck_assert(libc);
    ck_assert_ptr_null(d.soname);
    hfs_elf_dyn_free(&d);
    close(fd);
}
END_TEST

START_TEST(refuses_what_is_not_a_whole_elf_file)
{
    hfs_elfdyn d;
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/text", g_dir);
    FILE *f = fopen(p, "w");
    fputs("INPUT(-lfoo)\n", f); /* a linker script, as libc.so is */
    fclose(f);
    int fd = open(p, O_RDONLY);
    ck_assert_int_eq(hfs_elf_dyn(fd, &d), -ENOEXEC);
    ck_assert_ptr_null(d.strtab);
    close(fd);
    fd = copy_self(64, "head"); /* the ELF header only: its program headers are missing */
    ck_assert_int_eq(hfs_elf_dyn(fd, &d), -ENOEXEC);
    close(fd);
    fd = copy_self(0, "whole");
    ck_assert_int_eq(hfs_elf_dyn(fd, &d), 0);
    hfs_elf_dyn_free(&d);
    ck_assert_int_eq(ftruncate(fd, 4096), 0); /* cut before its dynamic section */
    ck_assert_int_eq(hfs_elf_dyn(fd, &d), -ENOEXEC);
    close(fd);
}
END_TEST

Suite *suite_elfdyn(void)
{
    Suite *s = suite_create("elfdyn");
    TCase *tc = tcase_create("elfdyn");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, reads_needed_of_an_executable);
    tcase_add_test(tc, refuses_what_is_not_a_whole_elf_file);
    suite_add_tcase(s, tc);
    return s;
}
