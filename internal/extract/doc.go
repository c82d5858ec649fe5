// Package extract unpacks tar archives (plain or gzip-compressed) into a
// directory they cannot leave. Every archive sagekit reads goes through it:
// model.tar.gz for local endpoints and transforms, sourcedir.tar.gz for the
// code directory, OCI archives given to push, the base images' rootfs
// layers.
//
// The directory is opened as an os.Root, so no write follows a link out of
// it, and each entry is checked before it is written: absolute names,
// names with "..", symbolic links whose target resolves outside (following
// the links the archive made before them), hard links to anything but a
// regular file inside, devices and FIFOs are refused with an error naming
// the entry. Total size, entry count and compression ratio are bounded
// (Limits), so a small archive cannot fill a disk.
//
// The package uses the standard library only: the in-image runtime links it.
package extract
