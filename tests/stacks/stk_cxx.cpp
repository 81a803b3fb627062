// A C++ leak whose stack is all C++ names: a static member of a class in a namespace, called
// through a function template. The report must show them demangled.
#include <vector>

namespace shop {
struct Widget {
  std::vector<int> parts;
  static Widget *make(int n) {
    Widget *w = new Widget;
    w->parts.resize(static_cast<std::size_t>(n));
    return w;
  }
};
}  // namespace shop

template <typename T> __attribute__((noinline)) T *build(int n) { return T::make(n); }

int main() {
  for (int i = 0; i < 8; i++) build<shop::Widget>(10);   // every Widget lost
  return 0;
}
