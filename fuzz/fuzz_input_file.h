// For fuzz targets whose reader takes a path, not bytes: one fixed file per process, rewritten
// with every input. It lives in /dev/shm (memory) when there is one, else in the temp folder,
// and is removed when the fuzzer exits.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace kiln::fuzz {

class InputFile {
 public:
  //! `stem` and `extension` (".npy") name the file; the process id makes it per process.
  InputFile(const std::string& stem, const std::string& extension) {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                                    ? std::filesystem::path("/dev/shm")
                                    : std::filesystem::temp_directory_path();
    path_ = (dir / (stem + "-" + std::to_string(::getpid()) + extension)).string();
  }
  ~InputFile() { ::unlink(path_.c_str()); }
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  const std::string& path() const { return path_; }

  //! Replaces the file's content with `data`; aborts if it cannot (that is no finding).
  void write(const uint8_t* data, size_t size) const {
    int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) die("open");
    for (size_t done = 0; done < size;) {
      ssize_t n = ::write(fd, data + done, size - done);
      if (n <= 0) die("write");
      done += static_cast<size_t>(n);
    }
    if (::close(fd) != 0) die("close");
  }

 private:
  [[noreturn]] void die(const char* what) const {
    std::perror((path_ + ": " + what).c_str());
    std::abort();
  }
  std::string path_;
};

}  // namespace kiln::fuzz
