"""The shared object's layout keeps the wrappers' fast paths cheap: everything they read (the
init state, libc slots, the prefix's first-byte table, the mapped-page table) lies in .data, and
.data fits in one page, so a wrapped call after a system call takes one TLB miss for it, not
several (bench/ANALYSIS.md, row 7)."""
import os
import re
import subprocess
import unittest

from harness import BUILD


class LayoutTest(unittest.TestCase):
    @unittest.skipIf(os.environ.get("HFS_PRELOAD_EXTRA"), "sanitizers pad globals with redzones")
    def test_hot_data_on_one_page(self):
        lib = os.path.join(BUILD, "libhfshim.so")
        out = subprocess.run(["readelf", "-W", "-S", lib], capture_output=True, text=True,
                             check=True).stdout
        m = re.search(r"\]\s+\.data\s+PROGBITS\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)", out)
        self.assertTrue(m, out)
        start, size = int(m.group(1), 16), int(m.group(2), 16)
        self.assertEqual(start // 4096, (start + size - 1) // 4096,
                         f".data [{start:#x}, {start + size:#x}) spans a page boundary")
        syms = subprocess.run(["nm", lib], capture_output=True, text=True, check=True).stdout
        for name in ("hfs_state", "hfs_mapped_pages", "hfs_vfs_first", "hfs_real_slot_open"):
            a = re.search(rf"^([0-9a-f]+) [dD] {name}$", syms, re.M)
            self.assertTrue(a, f"{name} is not in .data")
            self.assertTrue(start <= int(a.group(1), 16) < start + size, name)


if __name__ == "__main__":
    unittest.main()
