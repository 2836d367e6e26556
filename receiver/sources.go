package receiver

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // formats accepted for upload (the engine decodes the same set)
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/webp"
	"golang.org/x/sys/unix"

	"github.com/facecluster/facecluster/engine/face/imageio"
)

var errEOF = io.EOF

// resolvePath checks a submitted path: absolute under the image root or relative to it, no ".."
// component (a stored source names its file one way only), resolving (symlinks included) inside
// the root to an existing regular file. It returns the cleaned absolute path (symlinks kept) that
// is stored and sent to the recognizer, and the resolved one to read.
func (rc *Receiver) resolvePath(p string) (abs, real string, err error) {
	if dotDot(p) {
		return "", "", fmt.Errorf("%s: \"..\" is not allowed in image paths", p)
	}
	return rc.root.Resolve(p)
}

// dotDot reports whether a path has a ".." component.
func dotDot(p string) bool {
	for part := range strings.SplitSeq(filepath.ToSlash(p), "/") {
		if part == ".." {
			return true
		}
	}
	return false
}

// maxHeaderRead bounds how much of a file the header check reads (a JPEG's header can follow
// EXIF, ICC and other segments of up to 64 KiB each).
const maxHeaderRead = 4 << 20

// checkPathHeader reads the header of the file at real (resolved under the image root): its
// format must be one the engine decodes and its pixel count within MaxPixels. Nothing is
// decoded. The file is opened without following a symlink swapped in since resolvePath, and
// without blocking should a FIFO have been.
func (rc *Receiver) checkPathHeader(real string) error {
	fd, err := unix.Open(real, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("cannot be read: %w", err)
	}
	defer unix.Close(fd)
	_, err = imageio.DecodeHeader(io.LimitReader(fdReader(fd), maxHeaderRead), imageio.Limits{MaxPixels: rc.opts.MaxPixels})
	return err
}

// fdReader reads a file descriptor with plain read(2) calls (os.File would first try to add a
// regular file to the network poller: two more system calls per file).
type fdReader int

func (f fdReader) Read(p []byte) (int, error) {
	for {
		n, err := unix.Read(int(f), p)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// checkHeaders reads the headers of the resolved paths (see checkPathHeader) and refuses the
// request, naming every bad image, when any cannot be processed.
func (rc *Receiver) checkHeaders(names, reals []string) error {
	var bad []string
	for i, real := range reals {
		if real == "" {
			continue // not a path
		}
		if err := rc.checkPathHeader(real); err != nil {
			bad = append(bad, names[i]+": "+err.Error())
		}
	}
	switch {
	case len(bad) == 0:
		return nil
	case len(bad) == 1:
		return errorf(http.StatusUnprocessableEntity, "%s", bad[0])
	case len(bad) > 20:
		bad = append(bad[:20], fmt.Sprintf("and %d more", len(bad)-20))
	}
	return errorf(http.StatusUnprocessableEntity, "%d images cannot be processed: %s", len(bad), strings.Join(bad, "; "))
}

// upload is one checked image file from a multipart request.
type upload struct {
	name        string
	data        []byte
	format      string // jpeg, png, gif, webp, bmp
	width       int
	height      int
	contentType string
}

var extOf = map[string]string{"jpeg": ".jpg", "png": ".png", "gif": ".gif", "webp": ".webp", "bmp": ".bmp"}

// checkImage reads an uploaded file and checks it is an image of a supported format within the
// pixel limit (dimensions read from the header: nothing is decoded).
func (rc *Receiver) checkImage(fh *multipart.FileHeader) (upload, error) {
	f, err := fh.Open()
	if err != nil {
		return upload{}, fmt.Errorf("file %q: %w", fh.Filename, err)
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return upload{}, fmt.Errorf("file %q: %w", fh.Filename, err)
	}
	return rc.checkImageBytes(fh.Filename, data)
}

func (rc *Receiver) checkImageBytes(name string, data []byte) (upload, error) {
	if len(data) == 0 {
		return upload{}, errorf(http.StatusBadRequest, "file %q is empty", name)
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return upload{}, errorf(http.StatusUnsupportedMediaType, "file %q is not a JPEG, PNG, GIF, WebP or BMP image (%v)", name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return upload{}, errorf(http.StatusBadRequest, "file %q: image has no pixels", name)
	}
	if int64(cfg.Width)*int64(cfg.Height) > rc.opts.MaxPixels {
		return upload{}, errorf(http.StatusRequestEntityTooLarge, "file %q is %d×%d pixels, more than the limit of %d", name, cfg.Width, cfg.Height, rc.opts.MaxPixels)
	}
	return upload{name: name, data: data, format: format, width: cfg.Width, height: cfg.Height, contentType: "image/" + format}, nil
}

// parseMultipart parses a multipart/form-data body within the upload limit.
func (rc *Receiver) parseMultipart(w http.ResponseWriter, r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if !strings.HasPrefix(strings.ToLower(ct), "multipart/form-data") {
		return errorf(http.StatusUnsupportedMediaType, "Content-Type %q is not supported here: send multipart/form-data", ct)
	}
	r.Body = http.MaxBytesReader(w, r.Body, rc.opts.MaxUploadBytes)
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errorf(http.StatusBadRequest, "malformed multipart body: %v", err)
	}
	return nil
}

// files returns the uploaded files of the given form fields, in order.
func files(r *http.Request, fields ...string) []*multipart.FileHeader {
	var out []*multipart.FileHeader
	for _, f := range fields {
		out = append(out, r.MultipartForm.File[f]...)
	}
	return out
}
