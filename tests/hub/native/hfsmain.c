/* A fixture library that needs another (its DT_NEEDED is found through its RUNPATH or
 * LD_LIBRARY_PATH). */
int HFS_DEP_FN(void);

int hfs_main_value(void)
{
    return HFS_DEP_FN() + 1;
}
