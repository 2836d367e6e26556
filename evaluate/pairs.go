package evaluate

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Image names one photo of a labelled data set in LFW's layout: DIR/Person/Person_NNNN.jpg.
type Image struct {
	Person string
	Num    int
}

// Path is the image's file under dir.
func (im Image) Path(dir string) string {
	return filepath.Join(dir, im.Person, fmt.Sprintf("%s_%04d.jpg", im.Person, im.Num))
}

func (im Image) String() string { return fmt.Sprintf("%s_%04d", im.Person, im.Num) }

// Pair is one verification pair of LFW's View 2 protocol.
type Pair struct {
	A, B Image
	Same bool
	Fold int // 0-based
}

// ReadPairsFile reads an LFW pairs file (pairs.txt of View 2).
func ReadPairsFile(path string) ([]Pair, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read LFW pairs: %w", err)
	}
	defer f.Close()
	pairs, err := ReadPairs(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pairs, nil
}

// ReadPairs parses LFW's pairs format: a first line "folds n", then for each fold n lines
// "name i j" (same person) followed by n lines "name1 i name2 j" (different people), fields
// separated by tabs or spaces.
func ReadPairs(r io.Reader) ([]Pair, error) {
	sc := bufio.NewScanner(r)
	line := 0
	next := func() ([]string, error) {
		for sc.Scan() {
			line++
			if f := strings.Fields(sc.Text()); len(f) > 0 {
				return f, nil
			}
		}
		if err := sc.Err(); err != nil {
			return nil, err
		}
		return nil, io.ErrUnexpectedEOF
	}
	head, err := next()
	if err != nil {
		return nil, fmt.Errorf("no header line \"folds pairs-per-fold\": %w", err)
	}
	if len(head) != 2 {
		return nil, fmt.Errorf("line %d: header %q: want \"folds pairs-per-fold\"", line, strings.Join(head, " "))
	}
	folds, err1 := strconv.Atoi(head[0])
	n, err2 := strconv.Atoi(head[1])
	if err1 != nil || err2 != nil || folds < 1 || n < 1 {
		return nil, fmt.Errorf("line %d: header %q: want two positive numbers", line, strings.Join(head, " "))
	}
	pairs := make([]Pair, 0, folds*n*2)
	for fold := range folds {
		for i := range 2 * n {
			f, err := next()
			if err != nil {
				return nil, fmt.Errorf("fold %d ends early (want %d same and %d different pairs): %w", fold+1, n, n, err)
			}
			same := i < n
			p, err := parsePair(f, same)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", line, err)
			}
			p.Fold = fold
			pairs = append(pairs, p)
		}
	}
	if f, err := next(); err == nil {
		return nil, fmt.Errorf("line %d: %q after the %d folds the header announces", line, strings.Join(f, " "), folds)
	}
	return pairs, nil
}

func parsePair(f []string, same bool) (Pair, error) {
	num := func(s string) (int, error) {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			return 0, fmt.Errorf("image number %q: want a positive number", s)
		}
		return v, nil
	}
	var p Pair
	var err error
	switch {
	case same && len(f) == 3:
		p = Pair{A: Image{Person: f[0]}, B: Image{Person: f[0]}, Same: true}
		if p.A.Num, err = num(f[1]); err != nil {
			return p, err
		}
		p.B.Num, err = num(f[2])
	case !same && len(f) == 4:
		p = Pair{A: Image{Person: f[0]}, B: Image{Person: f[2]}}
		if p.A.Num, err = num(f[1]); err != nil {
			return p, err
		}
		p.B.Num, err = num(f[3])
	case same:
		return p, fmt.Errorf("%q: want a same-person pair \"name i j\"", strings.Join(f, " "))
	default:
		return p, fmt.Errorf("%q: want a different-people pair \"name1 i name2 j\"", strings.Join(f, " "))
	}
	return p, err
}
