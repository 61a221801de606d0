#pragma once
/// Result<T>: the outcome of an asynchronous operation delivered to a callback.

#include <exception>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

#include <ferry/error.hpp>

namespace ferry {

/// Either a value or the exception that prevented it, as delivered to completion callbacks.
/// value() rethrows the stored exception, so callers choose between checking and throwing.
template <class T>
class Result {
public:
    /// A successful result.
    Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    /// A failed result.
    Result(std::exception_ptr error) : state_(std::in_place_index<1>, std::move(error)) {}
    /// A failed result built from a code and a message naming what failed.
    static Result failure(std::error_code code, const std::string& what) {
        return Result(std::make_exception_ptr(Error(code, what)));
    }

    /// True when a value is held.
    bool ok() const noexcept { return state_.index() == 0; }
    /// True when a value is held.
    explicit operator bool() const noexcept { return ok(); }
    /// The value; rethrows the error when there is none.
    T& value() & {
        rethrow_if_failed();
        return std::get<0>(state_);
    }
    /// The value, moved out; rethrows the error when there is none.
    T&& value() && {
        rethrow_if_failed();
        return std::get<0>(std::move(state_));
    }
    /// The stored exception, or null on success.
    std::exception_ptr error() const noexcept { return ok() ? nullptr : std::get<1>(state_); }
    /// The error code of the stored exception (empty on success or for non-system errors).
    std::error_code code() const noexcept;
    /// The error's message, or "" on success.
    std::string message() const;

private:
    void rethrow_if_failed() const {
        if (!ok()) {
            std::rethrow_exception(std::get<1>(state_));
        }
    }
    std::variant<T, std::exception_ptr> state_;
};

/// A Result that carries no value, only success or the error.
struct Empty {};
/// A Result that carries no value.
using Status = Result<Empty>;

namespace detail {
/// Extracts the std::error_code of a stored system_error (empty for other exceptions).
std::error_code code_of(const std::exception_ptr& error) noexcept;
/// Extracts what() of a stored exception.
std::string message_of(const std::exception_ptr& error);
} // namespace detail

template <class T>
std::error_code Result<T>::code() const noexcept {
    return ok() ? std::error_code() : detail::code_of(std::get<1>(state_));
}

template <class T>
std::string Result<T>::message() const {
    return ok() ? std::string() : detail::message_of(std::get<1>(state_));
}

} // namespace ferry
