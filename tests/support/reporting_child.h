// A forked child process that reports numbers to the test through a pipe,
// for the kill -9 tests: the child writes each number once the work it
// stands for is done (committed), the test reads them, kills the child with
// SIGKILL at a moment of its choosing and checks what survived.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include <gtest/gtest.h>

namespace edgefleet::testsupport {

class ReportingChild {
 public:
  // Forks; the child runs body(report), where report(n) writes n to the
  // pipe (the child _exits with 5 if it cannot), and _exits with 0 if body
  // returns. body must not return to the test's code in the child.
  template <typename Body>
  explicit ReportingChild(Body body) {
    int fds[2];
    if (::pipe(fds) != 0) {
      ADD_FAILURE() << "pipe failed";
      return;
    }
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      const int out = fds[1];
      body([out](std::int64_t n) {
        if (::write(out, &n, sizeof n) != static_cast<ssize_t>(sizeof n)) ::_exit(5);
      });
      ::_exit(0);
    }
    ::close(fds[1]);
    fd_ = fds[0];
    if (pid_ < 0) ADD_FAILURE() << "fork failed";
  }
  ~ReportingChild() {
    if (fd_ >= 0) ::close(fd_);
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ReportingChild(const ReportingChild&) = delete;
  ReportingChild& operator=(const ReportingChild&) = delete;

  // The next number the child reported; false if it stopped first.
  bool Next(std::int64_t* n) { return ::read(fd_, n, sizeof *n) == static_cast<ssize_t>(sizeof *n); }

  // SIGKILL and reap; a failure if the child had already exited on its own.
  void KillNine() {
    ASSERT_EQ(::kill(pid_, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid_, &status, 0), pid_);
    reaped_ = true;
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the child exited with status " << status << " before it was killed";
  }

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
  bool reaped_ = false;
};

}  // namespace edgefleet::testsupport
