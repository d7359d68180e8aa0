// A Go client for the supervisor's tests: Go makes its own system calls (no libc), so only the
// supervisor can show it /hf. Commands as fsprobe.c: cat PATH, size PATH, ls DIR, write PATH TEXT,
// walk DIR (every file below, with its size), cd DIR, pwd, same PATH (os.Stat and the open
// file's Stat agree?).
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func main() {
	bad := false
	fail := func(cmd string, err error) {
		fmt.Printf("ERR %s %v\n", cmd, err)
		bad = true
	}
	a := os.Args[1:]
	for i := 0; i < len(a); i++ {
		arg := func(k int) string {
			if i+k < len(a) {
				return a[i+k]
			}
			return ""
		}
		switch a[i] {
		case "cat":
			b, err := os.ReadFile(arg(1))
			if err != nil {
				fail("cat", err)
			} else {
				os.Stdout.Write(b)
			}
			i++
		case "size":
			st, err := os.Stat(arg(1))
			if err != nil {
				fail("size", err)
			} else {
				kind := "file"
				if st.IsDir() {
					kind = "dir"
				}
				fmt.Printf("%d %s\n", st.Size(), kind)
			}
			i++
		case "ls":
			es, err := os.ReadDir(arg(1))
			if err != nil {
				fail("ls", err)
			} else {
				var names []string
				for _, e := range es {
					names = append(names, e.Name())
				}
				sort.Strings(names)
				fmt.Println(strings.Join(names, " "))
			}
			i++
		case "walk":
			root := arg(1)
			err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if !d.IsDir() {
					info, err := d.Info()
					if err != nil {
						return err
					}
					rel, _ := filepath.Rel(root, p)
					fmt.Printf("%s %d\n", rel, info.Size())
				}
				return nil
			})
			if err != nil {
				fail("walk", err)
			}
			i++
		case "write":
			if err := os.WriteFile(arg(1), []byte(arg(2)), 0644); err != nil {
				fail("write", err)
			} else {
				fmt.Println("ok")
			}
			i += 2
		case "cd":
			if err := os.Chdir(arg(1)); err != nil {
				fail("cd", err)
			} else {
				fmt.Println("ok")
			}
			i++
		case "same":
			st, err := os.Stat(arg(1))
			f, err2 := os.Open(arg(1))
			if err != nil || err2 != nil {
				fail("same", fmt.Errorf("%v %v", err, err2))
			} else {
				ft, _ := f.Stat()
				f.Close()
				if os.SameFile(st, ft) && st.Size() == ft.Size() {
					fmt.Println("same")
				} else {
					fmt.Println("differ")
				}
			}
			i++
		case "pwd":
			d, err := os.Getwd()
			if err != nil {
				fail("pwd", err)
			} else {
				fmt.Println(d)
			}
		default:
			fmt.Fprintf(os.Stderr, "gofsprobe: unknown command %s\n", a[i])
			os.Exit(2)
		}
	}
	if bad {
		os.Exit(1)
	}
}
