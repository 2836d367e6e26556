package imageio

import (
	"bytes"
	"encoding/binary"
)

// EXIF orientation: found in a JPEG APP1 "Exif" segment, a PNG eXIf chunk or a WebP EXIF chunk,
// all holding a TIFF structure whose IFD0 may carry tag 0x0112. Every read is bounds-checked
// against the in-memory input; anything malformed means "no orientation" (1), as viewers do,
// rather than refusing an image whose pixels are fine.

const tagOrientation = 0x0112

// orientation returns the EXIF orientation (1–8) of an encoded image, 1 when there is none.
func orientation(format string, data []byte) int {
	var tiff []byte
	switch format {
	case "jpeg":
		tiff = jpegEXIF(data)
	case "png":
		tiff = pngEXIF(data)
	case "webp":
		tiff = webpEXIF(data)
	}
	if tiff == nil {
		return 1
	}
	o := tiffOrientation(bytes.TrimPrefix(tiff, []byte("Exif\x00\x00")))
	if o < 1 || o > 8 {
		return 1
	}
	return o
}

// jpegEXIF walks the JPEG marker segments before the scan data and returns the TIFF part of the
// first APP1 segment that starts with "Exif\0\0" (an XMP APP1 may come first).
func jpegEXIF(data []byte) []byte {
	if len(data) < 4 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil
	}
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xFF {
			return nil
		}
		marker := data[i+1]
		switch {
		case marker == 0xFF: // fill byte
			i++
			continue
		case marker == 0xD8 || marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // no length
			i += 2
			continue
		case marker == 0xDA || marker == 0xD9: // start of scan, end of image: no EXIF after this
			return nil
		}
		n := int(binary.BigEndian.Uint16(data[i+2:]))
		if n < 2 || i+2+n > len(data) {
			return nil
		}
		seg := data[i+4 : i+2+n]
		if marker == 0xE1 && bytes.HasPrefix(seg, []byte("Exif\x00\x00")) {
			return seg[6:]
		}
		i += 2 + n
	}
	return nil
}

// pngEXIF returns the content of the eXIf chunk.
func pngEXIF(data []byte) []byte {
	const sig = "\x89PNG\r\n\x1a\n"
	if !bytes.HasPrefix(data, []byte(sig)) {
		return nil
	}
	for i := len(sig); i+8 <= len(data); {
		n := int64(binary.BigEndian.Uint32(data[i:]))
		typ := string(data[i+4 : i+8])
		end := int64(i) + 8 + n
		if end > int64(len(data)) {
			return nil
		}
		if typ == "eXIf" {
			return data[i+8 : end]
		}
		if typ == "IEND" {
			return nil
		}
		i = int(end) + 4 // CRC
	}
	return nil
}

// webpEXIF returns the content of the EXIF chunk of an extended (VP8X) WebP file.
func webpEXIF(data []byte) []byte {
	if len(data) < 12 || string(data[:4]) != "RIFF" || string(data[8:12]) != "WEBP" {
		return nil
	}
	for i := 12; i+8 <= len(data); {
		n := int64(binary.LittleEndian.Uint32(data[i+4:]))
		end := int64(i) + 8 + n
		if end > int64(len(data)) {
			return nil
		}
		if string(data[i:i+4]) == "EXIF" {
			return data[i+8 : end]
		}
		i = int(end + end&1) // chunks are padded to an even size
	}
	return nil
}

// tiffOrientation reads tag 0x0112 from IFD0 of a TIFF structure; 0 when absent or malformed.
func tiffOrientation(t []byte) int {
	if len(t) < 8 {
		return 0
	}
	var order binary.ByteOrder
	switch string(t[:2]) {
	case "II":
		order = binary.LittleEndian
	case "MM":
		order = binary.BigEndian
	default:
		return 0
	}
	if order.Uint16(t[2:]) != 42 {
		return 0
	}
	ifd := int64(order.Uint32(t[4:]))
	if ifd+2 > int64(len(t)) {
		return 0
	}
	entries := int64(order.Uint16(t[ifd:]))
	for k := int64(0); k < entries; k++ {
		e := ifd + 2 + 12*k
		if e+12 > int64(len(t)) {
			return 0
		}
		if order.Uint16(t[e:]) != tagOrientation {
			continue
		}
		typ, count := order.Uint16(t[e+2:]), order.Uint32(t[e+4:])
		if count < 1 {
			return 0
		}
		switch typ {
		case 3: // SHORT, stored in the first two bytes of the value field
			return int(order.Uint16(t[e+8:]))
		case 4: // LONG (seen from some writers)
			return int(order.Uint32(t[e+8:]))
		}
		return 0
	}
	return 0
}
