/* A dependency of the fixture libraries (tests/hub/fixtures.py: acme/native). */
int HFS_DEP_FN(void)
{
    return HFS_DEP_VALUE;
}
