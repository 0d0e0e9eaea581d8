module github.com/aemp-go/aemp/md6/asm/_gen

go 1.26
